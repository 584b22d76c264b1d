/* Liveness (src/proc.c): the one answer the locks, the channels and gc's creator records ask
 * about a process or thread: alive, dead or unknown. */
#include "no_proc.h" /* first: it needs _GNU_SOURCE */
#include "check.h"
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEAD SHMEM_LIVENESS_DEAD
#define ALIVE SHMEM_LIVENESS_ALIVE
#define UNKNOWN SHMEM_LIVENESS_UNKNOWN
#define THREAD SHMEM_LIVENESS_THREAD
#define START32 SHMEM_LIVENESS_START32

/* The start time of a process just forked (its /proc entry may lag a moment). */
static uint64_t start_of(pid_t pid) {
  uint64_t start = 0;
  for (int i = 0; i < 100 && shmem_thread_start_time(pid, &start) != 0; i++) usleep(1000);
  return start;
}

/* Waits until /proc shows the process in state Z (killed or exited, not yet reaped). */
static int wait_zombie(pid_t pid) {
  for (int i = 0; i < 2000; i++) {
    uint64_t start;
    int ended = 0;
    if (shmem__proc_stat(pid, &start, &ended, NULL) == 0 && ended) return 1;
    usleep(1000);
  }
  return 0;
}

static void test_self(void) {
  int32_t tid = shmem_thread_id();
  uint64_t start = 0;
  CHECK_ERR(shmem_thread_start_time(tid, &start), 0);
  CHECK_EQ_INT(shmem_liveness(getpid(), 0, 0), ALIVE);
  CHECK_EQ_INT(shmem_liveness(getpid(), start, 0), ALIVE);
  CHECK_EQ_INT(shmem_liveness(tid, start, THREAD), ALIVE);
  CHECK_EQ_INT(shmem_liveness(tid, (uint32_t)start, START32), ALIVE);
}

/* Ids no task can have. */
static void test_impossible_ids(void) {
  CHECK_EQ_INT(shmem_liveness(0, 0, 0), DEAD);
  CHECK_EQ_INT(shmem_liveness(-5, 0, THREAD), DEAD);
  CHECK_EQ_INT(shmem_liveness((int64_t)INT32_MAX + 1, 0, 0), DEAD);
  CHECK_EQ_INT(shmem_liveness(INT64_MAX, 0, 0), DEAD);
}

/* A child that exited and was reaped is dead, with or without a start time. */
static void test_reaped_child(void) {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  uint64_t start = start_of(pid);
  waitpid(pid, NULL, 0);
  CHECK_EQ_INT(shmem_liveness(pid, 0, 0), DEAD);
  CHECK_EQ_INT(shmem_liveness(pid, start, 0), DEAD);
  CHECK_EQ_INT(shmem_liveness(pid, start, THREAD), DEAD);
}

/* A killed child its parent has not reaped yet still answers kill(), but it is dead. */
static void test_zombie_child(void) {
  pid_t pid = live_process();
  uint64_t start = start_of(pid);
  CHECK_EQ_INT(shmem_liveness(pid, start, 0), ALIVE);
  kill(pid, SIGKILL);
  CHECK(wait_zombie(pid));
  CHECK_EQ_INT(kill(pid, 0), 0);
  CHECK_EQ_INT(shmem_liveness(pid, start, 0), DEAD);
  CHECK_EQ_INT(shmem_liveness(pid, 0, 0), DEAD);
  CHECK_EQ_INT(shmem_liveness(pid, start, THREAD), DEAD);
  waitpid(pid, NULL, 0);
}

static void *sleep_forever(void *arg) {
  for (;;) pause();
  return arg;
}

/* A process whose main thread called pthread_exit() while another thread runs: its leader is
 * a zombie, yet the process goes on (and may still write to shared memory). As a process it
 * is alive; as a thread (a lock owner) the main thread is dead. */
static void test_zombie_leader(void) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    pthread_t t;
    if (pthread_create(&t, NULL, sleep_forever, NULL) != 0) _exit(1);
    pthread_exit(NULL);
  }
  uint64_t start = start_of(pid);
  CHECK(wait_zombie(pid));
  CHECK_EQ_INT(shmem_liveness(pid, start, 0), ALIVE);
  CHECK_EQ_INT(shmem_liveness(pid, start, THREAD), DEAD);
  CHECK_EQ_INT(shmem_thread_alive(pid, start), 0);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  CHECK_EQ_INT(shmem_liveness(pid, start, 0), DEAD);
}

/* A live process with another start time than the one asked about: the id was reused, the
 * task asked about is gone. START32 compares only the low 32 bits. */
static void test_reused_id(void) {
  pid_t pid = live_process();
  uint64_t start = start_of(pid);
  CHECK(start > 0);
  CHECK_EQ_INT(shmem_liveness(pid, start + 1, 0), DEAD);
  CHECK_EQ_INT(shmem_liveness(pid, start + 1, THREAD), DEAD);
  CHECK_EQ_INT(shmem_liveness(pid, start + (1ull << 32), 0), DEAD);
  CHECK_EQ_INT(shmem_liveness(pid, (uint32_t)(start + 1), START32), DEAD);
  CHECK_EQ_INT(shmem_liveness(pid, (uint32_t)start, START32), ALIVE);
  /* The thread answer agrees for a single-threaded process. */
  CHECK_EQ_INT(shmem_liveness(pid, start, THREAD), ALIVE);
  CHECK_EQ_INT(shmem_thread_alive(pid, start + 1), 0);
  CHECK_EQ_INT(shmem_thread_alive(pid, start), 1);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

/* Without /proc a live process cannot be checked for reuse or for being a zombie: unknown,
 * whatever the start time; a pid kill() does not find is dead. In a child with /proc
 * unmounted in a mount namespace of its own (skipped where it cannot make one). */
static void test_unknown_without_proc(void) {
  pid_t other = live_process(), gone = gone_pid();
  uint64_t start = start_of(other);
  pid_t pid = fork();
  if (pid == 0) {
    leave_proc_or_skip();
    if (shmem_liveness(other, start, 0) != UNKNOWN) _exit(3);
    if (shmem_liveness(other, start + 1, 0) != UNKNOWN) _exit(4);
    if (shmem_liveness(other, 0, THREAD) != UNKNOWN) _exit(5);
    if (shmem_liveness(gone, 0, 0) != DEAD) _exit(6);
    if (shmem_liveness(getpid(), 0, 0) != UNKNOWN) _exit(7);
    /* The lock's answer for "cannot tell" keeps the owner. */
    if (shmem_thread_alive(other, start + 1) != 1) _exit(8);
    _exit(0);
  }
  check_no_proc_child(pid, "liveness");
  kill(other, SIGKILL);
  waitpid(other, NULL, 0);
}

int main(void) {
  test_self();
  test_impossible_ids();
  test_reaped_child();
  test_zombie_child();
  test_zombie_leader();
  test_reused_id();
  test_unknown_without_proc();
  return CHECK_REPORT();
}
