/* The process-shared futex wrappers: not-equal, deadlines, a wake across fork(), and the
 * crowded-CPU signal waiters use to skip their spin. */
#include "check.h"
#include "internal.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_not_equal_and_timeout(void) {
  uint32_t word = 5;
  CHECK_ERR(shmem_futex_wait(&word, 4, shmem_now_ns() + 1000000), -EAGAIN);
  int64_t start = shmem_now_ns();
  CHECK_ERR(shmem_futex_wait(&word, 5, start + 20 * 1000000), -ETIMEDOUT);
  CHECK(shmem_now_ns() - start >= 19 * 1000000);
  /* A deadline already past times out at once. */
  CHECK_ERR(shmem_futex_wait(&word, 5, 0), -ETIMEDOUT);
  CHECK_EQ_INT(shmem_futex_wake(&word, 0), 0);
  CHECK_EQ_INT(shmem_futex_wake(&word, 1), 0);
}

/* A child sleeps on a word in a MAP_SHARED mapping; the parent changes it and wakes it. */
static void test_wake_across_fork(void) {
  _Atomic uint32_t *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                                -1, 0);
  if (!CHECK(word != MAP_FAILED)) return;
  atomic_store(word, 0);
  pid_t pid = fork();
  if (pid == 0) {
    int64_t deadline = shmem_now_ns() + 5LL * 1000000000;
    while (atomic_load(word) == 0) {
      int r = shmem_futex_wait((const uint32_t *)word, 0, deadline);
      if (r == -ETIMEDOUT) _exit(2);
    }
    _exit(atomic_load(word) == 7 ? 0 : 3);
  }
  int woken = 0;
  /* Wake until the child has gone back to check the word: it may not be asleep yet. */
  for (int i = 0; i < 500; i++) {
    usleep(2000);
    atomic_store(word, 7);
    int r = shmem_futex_wake((const uint32_t *)word, 1);
    if (r > 0) woken += r;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      CHECK(WIFEXITED(status));
      CHECK_EQ_INT(WEXITSTATUS(status), 0);
      pid = -1;
      break;
    }
  }
  CHECK_EQ_INT(pid, -1);
  CHECK(woken <= 1);
  munmap((void *)word, 4096);
}

/* Polls shmem_cpus_crowded() for up to ms milliseconds; 1 when it answered want at least once. */
static int crowded_within(int want, int ms) {
  int64_t until = shmem_now_ns() + (int64_t)ms * 1000000;
  while (shmem_now_ns() < until) {
    if (shmem_cpus_crowded() == want) return 1;
    usleep(2000);
  }
  return 0;
}

/* The reading of /proc/loadavg's "running/total" field, on fixed texts. */
static void test_loadavg_parse(void) {
  CHECK_EQ_INT(shmem__loadavg_crowded("0.52 0.95 1.04 3/250 1234\n", 2), 1);
  CHECK_EQ_INT(shmem__loadavg_crowded("0.52 0.95 1.04 2/250 1234\n", 2), 0);
  CHECK_EQ_INT(shmem__loadavg_crowded("9.00 9.00 9.00 17/900 1\n", 16), 1);
  CHECK_EQ_INT(shmem__loadavg_crowded("0.00 0.00 0.00 1/90 1\n", 1), 0);
  CHECK_EQ_INT(shmem__loadavg_crowded("", 2), -1);
  CHECK_EQ_INT(shmem__loadavg_crowded("0.52 0.95 1.04", 2), -1);
  CHECK_EQ_INT(shmem__loadavg_crowded("0.52 0.95 1.04 x/250 1", 2), -1);
  CHECK_EQ_INT(shmem__loadavg_crowded("0.52 0.95 1.04 3 250", 2), -1);
}

/* With one busy child more than CPUs online, the signal turns on (within two seconds: it is
 * sampled at most once a millisecond). Whether it turns off again depends on what else the
 * machine runs, so that side is the parse test's. */
static void test_cpus_crowded(void) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (!CHECK(cpus >= 1 && cpus <= 256)) return;
  pid_t kids[257];
  int made = 0;
  for (long i = 0; i <= cpus; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      for (;;) __asm__ volatile("" ::: "memory");
    }
    if (!CHECK(pid > 0)) break;
    kids[made++] = pid;
  }
  if (made == cpus + 1) CHECK(crowded_within(1, 2000));
  for (int i = 0; i < made; i++) {
    kill(kids[i], SIGKILL);
    waitpid(kids[i], NULL, 0);
  }
}

int main(void) {
  test_not_equal_and_timeout();
  test_wake_across_fork();
  test_loadavg_parse();
  test_cpus_crowded();
  return CHECK_REPORT();
}
