/* Process-shared futexes: the one primitive every wait in shmem (wait/notify, locks, channels)
 * sleeps on. Shared, not private: FUTEX_PRIVATE_FLAG would key the futex on this process's
 * address space, and a waiter in another process would never be woken. */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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

/* How often shmem_cpus_crowded() looks again: often enough to follow a load that comes and
 * goes, rarely enough that its read (about 1 us here, 2 us under load) costs nothing beside
 * the waits that ask. */
#define CROWDED_SAMPLE_NS 1000000

/* 1 when the "running" count of a /proc/loadavg text ("0.52 0.95 1.04 3/250 1234") is more
 * than cpus, 0 when it is not, -1 when the text does not have that shape. */
int shmem__loadavg_crowded(const char *text, long cpus) {
  const char *p = text;
  for (int field = 0; field < 3; field++) {
    while (*p != '\0' && *p != ' ') p++;
    if (*p == '\0') return -1;
    p++;
  }
  if (*p < '0' || *p > '9') return -1;
  char *end;
  long running = strtol(p, &end, 10);
  if (*end != '/') return -1;
  return running > cpus;
}

/* The fourth field of /proc/loadavg, "running/total", counts the tasks runnable right now,
 * the caller included. More of them than CPUs online means some wait for a CPU: a waiter's
 * spin or sched_yield() then only delays the peer it waits for. Measured here with one
 * busy loop per CPU: the field read 3 or 4 in 100,000 reads; idle, 1 or 2. */
static int sample_crowded(void) {
#if SHMEM_LINUX
  static long cpus = 0;
  long online = __atomic_load_n(&cpus, __ATOMIC_RELAXED);
  if (online == 0) {
    online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1) online = 1;
    __atomic_store_n(&cpus, online, __ATOMIC_RELAXED);
  }
  int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[128];
  ssize_t got = read(fd, text, sizeof text - 1);
  close(fd);
  if (got <= 0) return 0;
  text[got] = '\0';
  return shmem__loadavg_crowded(text, online) == 1;
#else
  return 0;
#endif
}

int shmem_cpus_crowded(void) {
  static int64_t sampled_ns = 0;
  static int crowded = 0;
  int64_t now = shmem_now_ns();
  int64_t last = __atomic_load_n(&sampled_ns, __ATOMIC_ACQUIRE);
  if (last != 0 && now - last < CROWDED_SAMPLE_NS) return __atomic_load_n(&crowded, __ATOMIC_RELAXED);
  /* One thread samples; the others use the last answer meanwhile. */
  if (!__atomic_compare_exchange_n(&sampled_ns, &last, now, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
    return __atomic_load_n(&crowded, __ATOMIC_RELAXED);
  int c = sample_crowded();
  __atomic_store_n(&crowded, c, __ATOMIC_RELAXED);
  return c;
}
