/*
 * The baseline for bench/segments.js: the bare system calls behind shmem.create() and
 * close() + unlink(), with no Node in the way.
 *
 *   raw_cycle SIZE ITERATIONS NAME_PREFIX
 *
 * Each iteration does shm_open(O_CREAT | O_EXCL | O_RDWR) + ftruncate + mmap(PROT_READ |
 * PROT_WRITE, MAP_SHARED) + munmap + close + shm_unlink on a name of its own, and touches no
 * page. The program times its own loop, so the cost of starting it is not in the result, and
 * prints one line: nanoseconds per iteration.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAME_SIZE 64

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reports the failed call and removes the name, so a failure leaves nothing in /dev/shm. */
static int fail(const char *call, const char *name) {
  int e = errno;
  fprintf(stderr, "raw_cycle: %s '%s': %s\n", call, name, strerror(e));
  shm_unlink(name);
  return -1;
}

static int cycle(const char *name, size_t size) {
  int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) return fail("shm_open", name);
  if (ftruncate(fd, (off_t)size) != 0) {
    close(fd);
    return fail("ftruncate", name);
  }
  void *addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) {
    close(fd);
    return fail("mmap", name);
  }
  if (munmap(addr, size) != 0) {
    close(fd);
    return fail("munmap", name);
  }
  if (close(fd) != 0) return fail("close", name);
  if (shm_unlink(name) != 0) return fail("shm_unlink", name);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s SIZE ITERATIONS NAME_PREFIX\n", argv[0]);
    return 2;
  }
  char *end;
  unsigned long long size = strtoull(argv[1], &end, 10);
  if (*end != '\0' || size == 0) {
    fprintf(stderr, "raw_cycle: bad SIZE '%s'\n", argv[1]);
    return 2;
  }
  long iterations = strtol(argv[2], &end, 10);
  if (*end != '\0' || iterations <= 0) {
    fprintf(stderr, "raw_cycle: bad ITERATIONS '%s'\n", argv[2]);
    return 2;
  }
  const char *prefix = argv[3];
  if (prefix[0] != '/' || strlen(prefix) > NAME_SIZE - 24) {
    fprintf(stderr, "raw_cycle: NAME_PREFIX must start with '/' and be short\n");
    return 2;
  }

  /* The names are formatted before the clock starts, as the Node contenders' names are. */
  char (*names)[NAME_SIZE] = calloc((size_t)iterations, NAME_SIZE);
  if (names == NULL) {
    fprintf(stderr, "raw_cycle: out of memory\n");
    return 1;
  }
  for (long i = 0; i < iterations; i++) snprintf(names[i], NAME_SIZE, "%s%ld", prefix, i);

  /* One untimed cycle first, so the first timed one does not pay for cold caches. */
  char warm[NAME_SIZE];
  snprintf(warm, sizeof(warm), "%sw", prefix);
  if (cycle(warm, (size_t)size) != 0) return 1;

  uint64_t start = now_ns();
  for (long i = 0; i < iterations; i++) {
    if (cycle(names[i], (size_t)size) != 0) return 1;
  }
  uint64_t elapsed = now_ns() - start;

  printf("%.1f\n", (double)elapsed / (double)iterations);
  free(names);
  return 0;
}
