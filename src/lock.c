/* What the locks need from the system: whole-file locks (flock), and who a thread is and
 * whether it still lives (the owner-liveness check behind lock recovery, shmem_liveness in
 * src/proc.c). The lock algorithms themselves run in JS on Atomics over the mapping
 * (lib/lock.js); see docs/locks.md for why. */
#include "internal.h"

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

int shmem_thread_alive(int32_t tid, uint64_t start) {
  /* A lock's owner is one thread: when it ended, the lock is abandoned even if its process
   * goes on. Where liveness cannot be told, the owner keeps its lock. */
  return shmem_liveness(tid, start, SHMEM_LIVENESS_THREAD) != SHMEM_LIVENESS_DEAD;
}
