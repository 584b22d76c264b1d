/* What the locks need from the system: whole-file locks (flock), and who a thread is and
 * whether it still lives (the owner-liveness check behind lock recovery). The lock algorithms
 * themselves run in JS on Atomics over the mapping (lib/lock.js); see docs/locks.md for why. */
#include "internal.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#if SHMEM_LINUX
#include <sys/syscall.h>
#endif

int shmem_flock(int fd, shmem_flock_mode_t mode, int nonblocking) {
  int op;
  switch (mode) {
    case SHMEM_FLOCK_SHARED: op = LOCK_SH; break;
    case SHMEM_FLOCK_EXCLUSIVE: op = LOCK_EX; break;
    case SHMEM_FLOCK_UNLOCK: op = LOCK_UN; break;
    default: return -EINVAL;
  }
  if (nonblocking) op |= LOCK_NB;
  for (;;) {
    if (flock(fd, op) == 0) return 0;
    if (errno == EINTR && !nonblocking) continue;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
}

static void sleep_ns(int64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* flock(2) has no timeout and no way to be cancelled from another thread, so a wait with a
 * deadline polls: try, then sleep 50 us, doubling to 2 ms. A release is noticed within 2 ms. */
int shmem_flock_until(int fd, shmem_flock_mode_t mode, int64_t deadline_ns,
                      const volatile int *cancel) {
  int64_t pause = 50 * 1000;
  for (;;) {
    int r = shmem_flock(fd, mode, 1);
    if (r != -EAGAIN) return r;
    if (cancel != NULL && __atomic_load_n(cancel, __ATOMIC_ACQUIRE)) return -ECANCELED;
    int64_t now = shmem_now_ns();
    if (deadline_ns >= 0 && now >= deadline_ns) return -ETIMEDOUT;
    int64_t left = deadline_ns >= 0 ? deadline_ns - now : pause;
    sleep_ns(pause < left ? pause : left);
    if (pause < 2 * 1000 * 1000) pause *= 2;
  }
}

int32_t shmem_thread_id(void) {
#if SHMEM_LINUX
  return (int32_t)syscall(SYS_gettid);
#else
  return (int32_t)getpid();
#endif
}

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

int shmem_thread_alive(int32_t tid, uint64_t start) {
  if (tid <= 0) return 0;
  uint64_t now_start = 0;
  int ended = 0;
  int r = shmem__proc_stat(tid, &now_start, &ended, NULL);
  if (r == 0) return !ended && (start == 0 || now_start == start);
  if (r == -ESRCH) return 0;
  /* No /proc entry: the thread is gone, or /proc is not mounted or hides it (hidepid). kill()
   * tells the first apart (Linux accepts any thread id there); a zombie or a reused id cannot
   * be told from a live thread then, so that case keeps its lock. */
  if (r == -ENOENT) return kill((pid_t)tid, 0) < 0 && errno == ESRCH ? 0 : 1;
  return 1; /* cannot tell: never steal a lock on a guess */
}
