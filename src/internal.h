/* Internal helpers of the C core, shared between its files. Not part of the public API. */
#ifndef SHMEM_INTERNAL_H
#define SHMEM_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "../include/shmem.h"

#include <errno.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

#if defined(__linux__)
#define SHMEM_LINUX 1
#else
#define SHMEM_LINUX 0
#endif

/* Records the failed call in err (when given) and returns code, so a failure is one line:
 * `return shmem__fail(err, -errno, "ftruncate");` */
static inline int shmem__fail(shmem_err_t *err, int code, const char *syscall) {
  if (err != NULL) {
    err->code = code;
    err->syscall = syscall;
  }
  return code;
}

/* Resets every field so that close() on a segment whose open failed is harmless. */
void shmem__segment_reset(shmem_segment_t *seg);

/* Maps size bytes of fd from offset (any offset: the mapping starts at the page below it),
 * then applies the populate and lock flags. On failure nothing stays mapped; fd is left open. */
int shmem__map_fd(shmem_segment_t *seg, int fd, uint64_t size, uint64_t offset, unsigned flags,
                  shmem_err_t *err);

/* Prefaults and locks an existing mapping as seg->flags ask. */
int shmem__after_map(shmem_segment_t *seg, shmem_err_t *err);

/* Free hugetlb pages of the default size, from /proc/meminfo; -1 when unknown. */
int64_t shmem__huge_pages_free(void);

/* The "Key: value" number of key in a /proc/meminfo stream; -1 when absent. The parsing half
 * of the meminfo reads, separate so that the fuzzer can feed it. */
int64_t shmem__meminfo_scan(FILE *f, const char *key);

/* What a /proc/self/fd link target (NUL-terminated, changed in place) names: a memfd (its
 * name into name), a POSIX object in /dev/shm ("/name" into name: a candidate, which the
 * caller keeps only while that name still leads to its fd's object; empty when too long to
 * be a name) or a file. Text only: it touches no file, so a fuzzer can feed it. */
shmem_kind_t shmem__fd_link_kind(char *target, char *name, size_t name_size);

/* Turns a failure of a hugetlb request into SHMEM_ENOHUGEPAGES when the system has no free
 * huge pages, which is what the user needs to hear; other codes pass through. */
int shmem__hugetlb_error(int code);

/* /proc/<tid>/stat: the start time (field 22), whether the task has ended (a zombie, or
 * dead) and, when threads is not NULL, its process's thread count (field 20). 0; -ENOENT
 * when there is no such entry (no such task, or /proc not mounted or hidden from us: the
 * caller tells those apart); -ESRCH when the task went away while being read; another
 * negative errno. */
int shmem__proc_stat(int32_t tid, uint64_t *start, int *ended, long *threads);
/* The parsing half of shmem__proc_stat: text is one NUL-terminated /proc/<tid>/stat line.
 * 0, or -EIO when it is not shaped like one. Separate so that the fuzzer can feed it. */
int shmem__proc_stat_parse(const char *text, uint64_t *start, int *ended, long *threads);

/* src/channel_lock.c: who we are, whether another process lives, and the robust lock word
 * {pid, start time} that channels and shared maps take (docs/channel-format.md, "Locks"). */
/* This process's pid and start time (low 32 bits; 0 where /proc cannot be read). */
void shmem__channel_identity(uint32_t *pid, uint32_t *start);
/* 1 when the process (pid, start) is gone (shmem_liveness, and our own identity). */
int shmem__channel_process_dead(uint32_t pid, uint32_t start, int check_start);
/* The robust locks: a 64-bit word {pid, start time}. 0, or -EAGAIN when timeout_ns (< 0:
 * none) passes with the lock held by a live process. */
int shmem__channel_lock_acquire(uint64_t *word, int64_t timeout_ns);
/* The same; *recovered (when not NULL) becomes 1 when the lock was taken over from a dead
 * holder, whose half-done work the caller must then repair, else 0. */
int shmem__robust_lock_acquire(uint64_t *word, int64_t timeout_ns, int *recovered);
void shmem__channel_lock_release(uint64_t *word);
int shmem__channel_lock_dead(uint64_t held);

/* Rounds v up to a multiple of the power of two align. */
static inline uint64_t shmem__align_up(uint64_t v, uint64_t align) {
  return (v + align - 1) & ~(align - 1);
}

/* Whether a /proc/loadavg text shows more runnable tasks than cpus (src/futex.c): 1 yes,
 * 0 no, -1 not that file's shape. Apart from its reader so that tests can give it text. */
int shmem__loadavg_crowded(const char *text, long cpus);

/* The shorthands of the code that reads and writes shared structures (channels, the map):
 * atomic loads and stores with their memory orders, and a pause for spin loops. */
#define LOAD(p, mo) __atomic_load_n((p), (mo))
#define STORE(p, v, mo) __atomic_store_n((p), (v), (mo))
#define ACQ __ATOMIC_ACQUIRE
#define REL __ATOMIC_RELEASE
#define RLX __ATOMIC_RELAXED
#define SEQ __ATOMIC_SEQ_CST

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

#endif
