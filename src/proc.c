/* Whether a process or thread still lives: the one rule behind lock recovery (src/lock.c, for
 * lib/lock.js), the channels' robust locks and abandoned records (src/channel_lock.c) and the
 * creator records of gc (lib/registry.js, through src/napi/proc.c). It reads /proc/<id>/stat
 * for the start time (field 22: an id with its start time names a task for good, since ids are
 * reused) and the state (a zombie has ended, though its id still answers kill()). */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int shmem__proc_stat_parse(const char *text, uint64_t *start, int *ended, long *threads) {
  /* The command name (field 2) may hold spaces and parentheses: count from the last ')'. */
  const char *p = strrchr(text, ')');
  if (p == NULL) return -EIO;
  p++;
  /* A space must follow: the field loop below steps past it, and past the end of the text
   * when the ')' was its last byte. */
  if (p[0] != ' ') return -EIO;
  /* Field 3, the state: a zombie (killed, not yet reaped by its parent) or a dead task has
   * ended for good, although its /proc entry is still there. */
  *ended = p[1] == 'Z' || p[1] == 'X' || p[1] == 'x';
  /* Field 3 follows; the start time is field 22, 19 fields further on. */
  for (int field = 3; field < 22; field++) {
    p = strchr(p + 1, ' ');
    if (p == NULL) return -EIO;
    if (field + 1 == 20 && threads != NULL) *threads = strtol(p + 1, NULL, 10); /* num_threads */
  }
  char *end = NULL;
  unsigned long long v = strtoull(p + 1, &end, 10);
  if (end == p + 1) return -EIO;
  *start = (uint64_t)v;
  return 0;
}

int shmem__proc_stat(int32_t tid, uint64_t *start, int *ended, long *threads) {
#if SHMEM_LINUX
  if (tid <= 0) return -EINVAL;
  char path[64];
  /* /proc/<tid> exists for every thread, not only for process leaders (it is not listed). */
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  int saved = errno;
  close(fd);
  if (n < 0) return saved == ESRCH ? -ESRCH : -saved;
  buf[n] = '\0';
  return shmem__proc_stat_parse(buf, start, ended, threads);
#else
  (void)tid;
  (void)threads;
  *start = 0;
  *ended = 0;
  return -ENOSYS;
#endif
}

int shmem_thread_start_time(int32_t tid, uint64_t *start) {
  int ended = 0;
  int r = shmem__proc_stat(tid, start, &ended, NULL);
  if (r == -ENOENT || (r == 0 && ended)) return -ESRCH;
  return r;
}

static int no_such_id(int64_t id) { return kill((pid_t)id, 0) < 0 && errno == ESRCH; }

shmem_liveness_t shmem_liveness(int64_t id, uint64_t start, unsigned flags) {
  if (id <= 0 || id > INT32_MAX) return SHMEM_LIVENESS_DEAD; /* no task has that id */
  /* The cheap answer first: no task has the id in our pid namespace (Linux accepts any
   * thread id here, not only a process's). Everything else needs /proc. */
  if (no_such_id(id)) return SHMEM_LIVENESS_DEAD;
  uint64_t now_start = 0;
  int ended = 0;
  long threads = 0;
  int r = shmem__proc_stat((int32_t)id, &now_start, &ended, &threads);
  if (r == 0) {
    /* A zombie process leader while other threads are still counted is a process that goes
     * on (its main thread called pthread_exit(), or it is exiting right now); a zombie
     * thread itself has ended whatever its process does. */
    if (ended && ((flags & SHMEM_LIVENESS_THREAD) || threads <= 1)) return SHMEM_LIVENESS_DEAD;
    if (flags & SHMEM_LIVENESS_START32) now_start = (uint32_t)now_start;
    if (start != 0 && now_start != start) return SHMEM_LIVENESS_DEAD; /* the id was reused */
    return SHMEM_LIVENESS_ALIVE;
  }
  if (r == -ESRCH) return SHMEM_LIVENESS_DEAD; /* it went away while we read */
  /* No /proc entry: the task is gone since, or /proc is not mounted or hides it (hidepid).
   * kill() tells the first apart; a zombie or a reused id cannot be told from a live task
   * then. Any other failure (no /proc on this system, a read refused) cannot tell either. */
  if (r == -ENOENT && no_such_id(id)) return SHMEM_LIVENESS_DEAD;
  return SHMEM_LIVENESS_UNKNOWN;
}
