/* The C reference for bench/locks.js: a ping-pong between two processes on one word of a
 * MAP_SHARED mapping, through shared futexes, optionally spinning first.
 *
 *   futex_pingpong ROUND_TRIPS SPIN_NS DELAY_NS
 *
 * The parent writes 2k+1 and wakes; the child sees it (spinning up to SPIN_NS, then sleeping),
 * busy-waits DELAY_NS (a peer that is slow to answer), writes 2k+2 and wakes. Prints the mean
 * nanoseconds per round trip. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void await_value(_Atomic uint32_t *w, uint32_t want, int64_t spin_ns) {
  int64_t until = now_ns() + spin_ns;
  while (atomic_load(w) != want) {
    if (spin_ns > 0 && now_ns() < until) {
      __builtin_ia32_pause();
      continue;
    }
    uint32_t seen = atomic_load(w);
    if (seen == want) break;
    syscall(SYS_futex, w, FUTEX_WAIT, seen, NULL, NULL, 0);
  }
}

static void put(_Atomic uint32_t *w, uint32_t v) {
  atomic_store(w, v);
  syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: futex_pingpong ROUND_TRIPS SPIN_NS DELAY_NS\n");
    return 2;
  }
  long n = atol(argv[1]);
  int64_t spin = atoll(argv[2]), delay = atoll(argv[3]);
  _Atomic uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                             -1, 0);
  if (w == MAP_FAILED) return 1;
  atomic_store(w, 0);
  pid_t pid = fork();
  if (pid == 0) {
    for (long k = 0; k < n; k++) {
      await_value(w, (uint32_t)(2 * k + 1), spin);
      if (delay > 0) {
        int64_t until = now_ns() + delay;
        while (now_ns() < until) {
        }
      }
      put(w, (uint32_t)(2 * k + 2));
    }
    _exit(0);
  }
  /* A few untimed round trips first, so both sides are running. */
  long warm = n / 10;
  int64_t start = 0;
  for (long k = 0; k < n; k++) {
    if (k == warm) start = now_ns();
    put(w, (uint32_t)(2 * k + 1));
    await_value(w, (uint32_t)(2 * k + 2), spin);
  }
  int64_t elapsed = now_ns() - start;
  waitpid(pid, NULL, 0);
  printf("%.1f\n", (double)elapsed / (double)(n - warm));
  return 0;
}
