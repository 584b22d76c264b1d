/* System V shared memory: shmget, shmat, shmdt, shmctl. */
#include "internal.h"

#include <fcntl.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if SHMEM_LINUX
#include <sys/random.h>
#endif

#ifndef SHM_HUGETLB
#define SHM_HUGETLB 0
#endif

/* A key for a fresh segment: random, positive and never IPC_PRIVATE (0). */
static int32_t random_key(void) {
  uint32_t v = 0;
#if SHMEM_LINUX
  if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) v = 0;
#endif
  if (v == 0) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    v = (uint32_t)ts.tv_nsec * 2654435761u ^ (uint32_t)getpid() ^ (uint32_t)ts.tv_sec;
  }
  v &= 0x7fffffff;
  return v == 0 ? 1 : (int32_t)v;
}

/* Attaches shmid and fills seg. size 0 maps the whole segment. */
static int attach(shmem_segment_t *seg, int shmid, uint64_t size, unsigned flags,
                  shmem_err_t *err) {
  struct shmid_ds ds;
  if (shmctl(shmid, IPC_STAT, &ds) != 0) return shmem__fail(err, -errno, "shmctl");
  uint64_t have = (uint64_t)ds.shm_segsz;
  if (size == 0) size = have;
  if (size == 0 || size > have) return shmem__fail(err, SHMEM_ETOOSMALL, "shmctl");
  void *p = shmat(shmid, NULL, (flags & SHMEM_F_READONLY) ? SHM_RDONLY : 0);
  if (p == (void *)-1) return shmem__fail(err, -errno, "shmat");
  seg->shmid = shmid;
  seg->map_base = seg->data = p;
  seg->map_length = shmem__align_up(have, shmem_page_size());
  seg->size = size;
  seg->flags = flags;
  int r = shmem__after_map(seg, err);
  if (r < 0) {
    shmdt(p);
    seg->map_base = seg->data = NULL;
    seg->map_length = seg->size = 0;
  }
  return r;
}

int shmem_sysv_create(shmem_segment_t *seg, int64_t key, uint64_t size,
                      const shmem_options_t *opts, shmem_err_t *err) {
  shmem__segment_reset(seg);
  seg->kind = SHMEM_KIND_SYSV;
  if (key != SHMEM_KEY_FRESH && (key < INT32_MIN || key > INT32_MAX)) {
    return shmem__fail(err, -EINVAL, "shmget");
  }
  if (opts->flags & SHMEM_F_PRIVATE) return shmem__fail(err, -EINVAL, NULL);
  if (size == 0 || size > (uint64_t)SIZE_MAX) return shmem__fail(err, -EINVAL, "shmget");
  int shmflg = IPC_CREAT | IPC_EXCL | (int)(opts->mode & 0777);
  if (opts->flags & SHMEM_F_HUGETLB) {
    if (SHM_HUGETLB == 0) return shmem__fail(err, -ENOTSUP, "shmget");
    shmflg |= SHM_HUGETLB;
  }
  int fresh = key == SHMEM_KEY_FRESH;
  int32_t k = fresh ? random_key() : (int32_t)key;
  int shmid = -1;
  for (int attempt = 0; attempt < 64; attempt++) {
    shmid = shmget((key_t)k, (size_t)size, shmflg);
    if (shmid >= 0 || errno != EEXIST || !fresh) break;
    k = random_key();
  }
  if (shmid < 0) {
    int code = -errno;
    if (opts->flags & SHMEM_F_HUGETLB) code = shmem__hugetlb_error(code);
    return shmem__fail(err, code, "shmget");
  }
  seg->key = k;
  int r = attach(seg, shmid, size, opts->flags, err);
  if (r < 0) {
    /* The segment is ours (IPC_EXCL): leave nothing behind. */
    shmctl(shmid, IPC_RMID, NULL);
    return r;
  }
  seg->created = 1;
  return 0;
}

int shmem_sysv_open(shmem_segment_t *seg, int32_t key, const shmem_options_t *opts,
                    shmem_err_t *err) {
  shmem__segment_reset(seg);
  seg->kind = SHMEM_KIND_SYSV;
  if (key == IPC_PRIVATE) return shmem__fail(err, -EINVAL, "shmget");
  if (opts->flags & (SHMEM_F_PRIVATE | SHMEM_F_HUGETLB)) return shmem__fail(err, -EINVAL, NULL);
  int shmid = shmget((key_t)key, 0, 0);
  if (shmid < 0) return shmem__fail(err, -errno, "shmget");
  seg->key = key;
  return attach(seg, shmid, opts->size, opts->flags, err);
}

int shmem_sysv_open_id(shmem_segment_t *seg, int shmid, const shmem_options_t *opts,
                       shmem_err_t *err) {
  shmem__segment_reset(seg);
  seg->kind = SHMEM_KIND_SYSV;
  if (shmid < 0) return shmem__fail(err, -EINVAL, "shmctl");
  if (opts->flags & (SHMEM_F_PRIVATE | SHMEM_F_HUGETLB)) return shmem__fail(err, -EINVAL, NULL);
  struct shmid_ds ds;
  if (shmctl(shmid, IPC_STAT, &ds) != 0) {
    int e = errno;
    return shmem__fail(err, e == EINVAL || e == EIDRM ? -ENOENT : -e, "shmctl");
  }
#if SHMEM_LINUX
  seg->key = (int32_t)ds.shm_perm.__key;
#endif
  return attach(seg, shmid, opts->size, opts->flags, err);
}

int shmem_sysv_remove_id(int shmid, shmem_err_t *err) {
  if (shmid < 0) return shmem__fail(err, -ENOENT, "shmctl");
#ifdef SHM_DEST
  /* Linux accepts IPC_RMID again while a removed segment is still attached somewhere; it is
   * already gone as far as the caller is concerned. */
  struct shmid_ds ds;
  if (shmctl(shmid, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & SHM_DEST)) {
    return shmem__fail(err, -ENOENT, "shmctl");
  }
#endif
  if (shmctl(shmid, IPC_RMID, NULL) != 0) {
    int e = errno;
    /* EINVAL and EIDRM both mean the id names no segment (any more). */
    return shmem__fail(err, e == EINVAL || e == EIDRM ? -ENOENT : -e, "shmctl");
  }
  return 0;
}

int shmem_sysv_remove(int32_t key, shmem_err_t *err) {
  if (key == IPC_PRIVATE) return shmem__fail(err, -EINVAL, "shmget");
  int shmid = shmget((key_t)key, 0, 0);
  if (shmid < 0) return shmem__fail(err, -errno, "shmget");
  return shmem_sysv_remove_id(shmid, err);
}
