/* For the tests of liveness where /proc does not show a process: a living process, a pid that
 * is gone, and a child that unmounts /proc in a mount namespace of its own. Include it first:
 * unshare() needs _GNU_SOURCE before any system header. */
#ifndef SHMEM_TEST_NO_PROC_H
#define SHMEM_TEST_NO_PROC_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define NO_PROC_SKIP 77

/* A process that lives until it is killed, or until the test ends. */
static inline pid_t live_process(void) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) pause();
  }
  return pid;
}

/* The pid of a process that came and went. */
static inline pid_t gone_pid(void) {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, NULL, 0);
  return pid;
}

/* In a child: unmounts /proc in a mount namespace of its own (mounts made private first, so
 * nothing outside changes); exits NO_PROC_SKIP where this machine does not allow it. */
static inline void leave_proc_or_skip(void) {
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      umount2("/proc", MNT_DETACH) != 0 || access("/proc/self/stat", F_OK) == 0) {
    _exit(NO_PROC_SKIP);
  }
}

/* Waits for that child: it exited 0, or it reported the skip. */
static inline void check_no_proc_child(pid_t pid, const char *what) {
  int status;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == NO_PROC_SKIP) {
    printf("skip %s without /proc: cannot make a mount namespace here\n", what);
    return;
  }
  CHECK(WIFEXITED(status));
  CHECK_EQ_INT(WEXITSTATUS(status), 0);
}

#endif
