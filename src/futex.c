/* Process-shared futexes: the one primitive every wait in shmem (wait/notify, locks, channels)
 * sleeps on. Shared, not private: FUTEX_PRIVATE_FLAG would key the futex on this process's
 * address space, and a waiter in another process would never be woken. */
#include "internal.h"

#include <limits.h>
#include <time.h>

#if SHMEM_LINUX
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

int64_t shmem_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int shmem_futex_wait(const uint32_t *addr, uint32_t expected, int64_t deadline_ns) {
#if SHMEM_LINUX
  struct timespec ts;
  struct timespec *tsp = NULL;
  if (deadline_ns >= 0) {
    ts.tv_sec = (time_t)(deadline_ns / 1000000000);
    ts.tv_nsec = (long)(deadline_ns % 1000000000);
    tsp = &ts;
  }
  /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a wait that is woken
   * early and goes back to sleep keeps the caller's deadline instead of starting anew. */
  long r = syscall(SYS_futex, addr, FUTEX_WAIT_BITSET, expected, tsp, NULL,
                   FUTEX_BITSET_MATCH_ANY);
  if (r == 0) return 0;
  if (errno == EAGAIN) return -EAGAIN;
  if (errno == ETIMEDOUT) return -ETIMEDOUT;
  if (errno == EINTR) return -EINTR;
  return -errno;
#else
  (void)addr;
  (void)expected;
  (void)deadline_ns;
  return -ENOSYS;
#endif
}

int shmem_futex_wake(const uint32_t *addr, int count) {
#if SHMEM_LINUX
  if (count <= 0) return 0;
  long r = syscall(SYS_futex, addr, FUTEX_WAKE, count, NULL, NULL, 0);
  if (r < 0) return -errno;
  return (int)(r > INT_MAX ? INT_MAX : r);
#else
  (void)addr;
  (void)count;
  return -ENOSYS;
#endif
}
