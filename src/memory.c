/* The memory controls of a mapping (madvise, msync, mincore, mlock), stat, and raw mmap. */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#if SHMEM_LINUX
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#endif
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

size_t shmem_page_size(void) {
  static size_t page;
  if (page == 0) page = (size_t)sysconf(_SC_PAGESIZE);
  return page;
}

int64_t shmem__meminfo_scan(FILE *f, const char *key) {
  char line[256];
  size_t key_len = strlen(key);
  while (fgets(line, sizeof(line), f) != NULL) {
    if (strncmp(line, key, key_len) == 0 && line[key_len] == ':') {
      return strtoll(line + key_len + 1, NULL, 10);
    }
  }
  return -1;
}

/* Reads one "Key: value" number from /proc/meminfo; -1 when absent. */
static int64_t meminfo_value(const char *key) {
  FILE *f = fopen("/proc/meminfo", "re");
  if (f == NULL) return -1;
  int64_t value = shmem__meminfo_scan(f, key);
  fclose(f);
  return value;
}

uint64_t shmem_huge_page_size(void) {
  static int64_t size = -2;
  if (size == -2) {
    int64_t kib = meminfo_value("Hugepagesize");
    size = kib > 0 ? kib * 1024 : 0;
  }
  return (uint64_t)size;
}

int64_t shmem__huge_pages_free(void) {
  return meminfo_value("HugePages_Free");
}

int shmem__hugetlb_error(int code) {
  if ((code == -ENOMEM || code == -EINVAL || code == -ENOSPC) && shmem__huge_pages_free() <= 0) {
    return SHMEM_ENOHUGEPAGES;
  }
  return code;
}

/* Widens [offset, offset + length) of the segment to whole pages; length 0 means "to the
 * end". The result never leaves the mapping. */
static int page_range(shmem_segment_t *seg, uint64_t offset, uint64_t length, void **start,
                      size_t *len) {
  if (seg->data == NULL) return -EBADF;
  if (offset > seg->size) return -ERANGE;
  if (length == 0) length = seg->size - offset;
  if (length > seg->size - offset) return -ERANGE;
  uint64_t page = shmem_page_size();
  uintptr_t base = (uintptr_t)seg->map_base;
  uintptr_t first = (uintptr_t)seg->data + offset;
  uintptr_t a = first & ~(uintptr_t)(page - 1);
  uintptr_t b = (uintptr_t)shmem__align_up(first + length, page);
  uintptr_t end = (uintptr_t)shmem__align_up(base + seg->map_length, page);
  if (a < base) a = base;
  if (b > end) b = end;
  *start = (void *)a;
  *len = b > a ? (size_t)(b - a) : 0;
  return 0;
}

int shmem_advice_allowed(int advice) {
  switch (advice) {
    case MADV_NORMAL:
    case MADV_RANDOM:
    case MADV_SEQUENTIAL:
    case MADV_WILLNEED:
    case MADV_DONTNEED:
#ifdef MADV_FREE
    case MADV_FREE:
#endif
#ifdef MADV_REMOVE
    case MADV_REMOVE:
#endif
#ifdef MADV_DONTFORK
    case MADV_DONTFORK:
    case MADV_DOFORK:
#endif
#ifdef MADV_MERGEABLE
    case MADV_MERGEABLE:
    case MADV_UNMERGEABLE:
#endif
#ifdef MADV_HUGEPAGE
    case MADV_HUGEPAGE:
    case MADV_NOHUGEPAGE:
#endif
#ifdef MADV_DONTDUMP
    case MADV_DONTDUMP:
    case MADV_DODUMP:
#endif
#ifdef MADV_WIPEONFORK
    case MADV_WIPEONFORK:
    case MADV_KEEPONFORK:
#endif
#ifdef MADV_COLD
    case MADV_COLD:
    case MADV_PAGEOUT:
#endif
#ifdef MADV_POPULATE_READ
    case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE:
#endif
#ifdef MADV_COLLAPSE
    case MADV_COLLAPSE:
#endif
      return 1;
    default:
      /* MADV_HWPOISON, MADV_SOFT_OFFLINE and guard pages make the next touch fault. */
      return 0;
  }
}

int shmem_advise(shmem_segment_t *seg, int advice, uint64_t offset, uint64_t length,
                 shmem_err_t *err) {
  if (!shmem_advice_allowed(advice)) return shmem__fail(err, -EINVAL, "madvise");
  void *start;
  size_t len;
  int r = page_range(seg, offset, length, &start, &len);
  if (r < 0) return shmem__fail(err, r, "madvise");
  if (len == 0) return 0;
  if (madvise(start, len, advice) != 0) return shmem__fail(err, -errno, "madvise");
  return 0;
}

int shmem_sync(shmem_segment_t *seg, uint64_t offset, uint64_t length, int flags,
               shmem_err_t *err) {
  void *start;
  size_t len;
  int r = page_range(seg, offset, length, &start, &len);
  if (r < 0) return shmem__fail(err, r, "msync");
  if (len == 0) return 0;
  int ms = (flags & SHMEM_SYNC_ASYNC) ? MS_ASYNC : MS_SYNC;
  if (flags & SHMEM_SYNC_INVALIDATE) ms |= MS_INVALIDATE;
  if (msync(start, len, ms) != 0) return shmem__fail(err, -errno, "msync");
  return 0;
}

int shmem_residency(shmem_segment_t *seg, uint64_t offset, uint64_t length,
                    uint64_t *resident_pages, uint64_t *total_pages, shmem_err_t *err) {
  void *start;
  size_t len;
  int r = page_range(seg, offset, length, &start, &len);
  if (r < 0) return shmem__fail(err, r, "mincore");
  size_t page = shmem_page_size();
  uint64_t pages = len / page;
  /* A bounded vector, reused chunk by chunk: an 8 GiB segment needs 2 M entries otherwise. */
  enum { CHUNK = 65536 };
  unsigned char *vec = malloc(pages < CHUNK ? (pages ? pages : 1) : CHUNK);
  if (vec == NULL) return shmem__fail(err, -ENOMEM, "mincore");
  uint64_t resident = 0;
  for (uint64_t done = 0; done < pages;) {
    uint64_t n = pages - done < CHUNK ? pages - done : CHUNK;
#if SHMEM_LINUX
    unsigned char *v = vec;
#else
    char *v = (char *)vec;
#endif
    if (mincore((char *)start + done * page, (size_t)(n * page), v) != 0) {
      r = shmem__fail(err, -errno, "mincore");
      free(vec);
      return r;
    }
    for (uint64_t i = 0; i < n; i++) resident += vec[i] & 1;
    done += n;
  }
  free(vec);
  *resident_pages = resident;
  *total_pages = pages;
  return 0;
}

int shmem_lock_memory(shmem_segment_t *seg, int on_fault, shmem_err_t *err) {
  if (seg->map_base == NULL) return shmem__fail(err, -EBADF, "mlock");
  if (on_fault) {
#if defined(MLOCK_ONFAULT)
    if (mlock2(seg->map_base, (size_t)seg->map_length, MLOCK_ONFAULT) != 0) {
      return shmem__fail(err, -errno, "mlock2");
    }
    seg->flags = (seg->flags & ~(unsigned)SHMEM_F_LOCK) | SHMEM_F_LOCK_ONFAULT;
    return 0;
#else
    return shmem__fail(err, -ENOTSUP, "mlock2");
#endif
  }
  if (mlock(seg->map_base, (size_t)seg->map_length) != 0) return shmem__fail(err, -errno, "mlock");
  seg->flags = (seg->flags & ~(unsigned)SHMEM_F_LOCK_ONFAULT) | SHMEM_F_LOCK;
  return 0;
}

int shmem_unlock_memory(shmem_segment_t *seg, shmem_err_t *err) {
  if (seg->map_base == NULL) return shmem__fail(err, -EBADF, "munlock");
  if (munlock(seg->map_base, (size_t)seg->map_length) != 0) {
    return shmem__fail(err, -errno, "munlock");
  }
  seg->flags &= ~(unsigned)(SHMEM_F_LOCK | SHMEM_F_LOCK_ONFAULT);
  return 0;
}

static double timespec_ms(struct timespec ts) {
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int shmem_segment_stat(shmem_segment_t *seg, shmem_stat_t *st, shmem_err_t *err) {
  memset(st, 0, sizeof(*st));
  if (seg->kind == SHMEM_KIND_SYSV) {
    struct shmid_ds ds;
    if (shmctl(seg->shmid, IPC_STAT, &ds) != 0) return shmem__fail(err, -errno, "shmctl");
    st->size = (uint64_t)ds.shm_segsz;
    st->allocated = st->size;
    st->mode = (uint32_t)ds.shm_perm.mode & 0777;
    st->uid = (uint32_t)ds.shm_perm.uid;
    st->gid = (uint32_t)ds.shm_perm.gid;
    st->cuid = (uint32_t)ds.shm_perm.cuid;
    st->cgid = (uint32_t)ds.shm_perm.cgid;
    st->nattch = (uint64_t)ds.shm_nattch;
    st->cpid = (int32_t)ds.shm_cpid;
    st->lpid = (int32_t)ds.shm_lpid;
    st->atime_ms = (double)ds.shm_atime * 1e3;
    st->mtime_ms = (double)ds.shm_dtime * 1e3;
    st->ctime_ms = (double)ds.shm_ctime * 1e3;
    st->nlink = 1;
    return 0;
  }
  if (seg->fd < 0) return shmem__fail(err, -EBADF, "fstat");
  struct stat s;
  if (fstat(seg->fd, &s) != 0) return shmem__fail(err, -errno, "fstat");
  st->size = (uint64_t)s.st_size;
  st->allocated = (uint64_t)s.st_blocks * 512;
  st->mode = (uint32_t)s.st_mode & 07777;
  st->uid = (uint32_t)s.st_uid;
  st->gid = (uint32_t)s.st_gid;
  st->ino = (uint64_t)s.st_ino;
  st->dev = (uint64_t)s.st_dev;
  st->nlink = (uint64_t)s.st_nlink;
#if SHMEM_LINUX
  st->atime_ms = timespec_ms(s.st_atim);
  st->mtime_ms = timespec_ms(s.st_mtim);
  st->ctime_ms = timespec_ms(s.st_ctim);
#else
  st->atime_ms = timespec_ms(s.st_atimespec);
  st->mtime_ms = timespec_ms(s.st_mtimespec);
  st->ctime_ms = timespec_ms(s.st_ctimespec);
#endif
  return 0;
}

/* The flags raw mmap() accepts: everything that keeps the result a plain, touchable mapping.
 * MAP_FIXED and its kin would replace memory the process is using. The set is built in
 * unsigned arithmetic: the hugetlb size field (MAP_HUGE_MASK << MAP_HUGE_SHIFT) reaches bit
 * 31, and shifting into the sign bit of an int is undefined behaviour. */
static int map_flags_allowed(int flags) {
  unsigned allowed = (unsigned)(MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
#ifdef MAP_SHARED_VALIDATE
  allowed |= (unsigned)MAP_SHARED_VALIDATE;
#endif
#ifdef MAP_POPULATE
  allowed |= (unsigned)MAP_POPULATE;
#endif
#ifdef MAP_HUGETLB
  allowed |= (unsigned)MAP_HUGETLB | ((unsigned)MAP_HUGE_MASK << MAP_HUGE_SHIFT);
#endif
#ifdef MAP_LOCKED
  allowed |= (unsigned)MAP_LOCKED;
#endif
#ifdef MAP_NONBLOCK
  allowed |= (unsigned)MAP_NONBLOCK;
#endif
  if (((unsigned)flags & ~allowed) != 0) return 0;
  int type = flags & (MAP_SHARED | MAP_PRIVATE);
#ifdef MAP_SHARED_VALIDATE
  type = flags & MAP_SHARED_VALIDATE;
  return type == MAP_SHARED || type == MAP_PRIVATE || type == MAP_SHARED_VALIDATE;
#else
  return type == MAP_SHARED || type == MAP_PRIVATE;
#endif
}

static uint64_t raw_map_length(uint64_t size, int flags) {
#ifdef MAP_HUGETLB
  if (flags & MAP_HUGETLB) {
    unsigned shift = ((unsigned)flags >> MAP_HUGE_SHIFT) & (unsigned)MAP_HUGE_MASK;
    uint64_t huge = shift ? (uint64_t)1 << shift : shmem_huge_page_size();
    if (huge != 0) return shmem__align_up(size, huge);
  }
#endif
  (void)flags;
  return shmem__align_up(size, shmem_page_size());
}

/* How many bytes of a mapping at offset fd backs, for a file whose size can be checked: a
 * regular file, a POSIX or memfd object, or (Linux) a block device. 1 with *have set, 0 for
 * /dev/zero (which backs any length and never faults), or a negative errno: -ENODEV for
 * anything else, whose pages could fault where nothing can be checked (a pipe or socket,
 * which mmap(2) refuses anyway, or a character device whose driver maps what it likes). */
static int backed_size(int fd, uint64_t *have) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -errno;
  if (S_ISREG(st.st_mode)) {
    *have = (uint64_t)st.st_size;
    return 1;
  }
#if SHMEM_LINUX
  if (S_ISBLK(st.st_mode)) {
    uint64_t bytes;
    if (ioctl(fd, BLKGETSIZE64, &bytes) != 0) return -errno;
    *have = bytes;
    return 1;
  }
  /* /dev/zero is character device 1:5: a mapping of it is anonymous memory. */
  if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 5) return 0;
#endif
  return S_ISDIR(st.st_mode) ? -EISDIR : -ENODEV;
}

/* Maps fd where it backs [offset, offset + size) only in part: private anonymous memory over
 * the whole length first, then the file's pages over its front with MAP_FIXED. The file's
 * last page is the kernel's, bytes past its end zero-filled; the pages after it are
 * anonymous, so no touch faults. With no page of the file in range, the file is still
 * mapped once and let go, so that what mmap(2) refuses (a shared writable mapping of a
 * read-only fd, say) is refused the same way. */
static void *map_past_end(uint64_t size, int prot, int flags, int fd, uint64_t offset,
                          uint64_t have, int *code) {
  size_t page = shmem_page_size();
  size_t length = (size_t)raw_map_length(size, flags);
  int anon = MAP_PRIVATE | MAP_ANONYMOUS | (flags & MAP_NORESERVE);
#ifdef MAP_POPULATE
  anon |= flags & MAP_POPULATE;
#endif
#ifdef MAP_LOCKED
  anon |= flags & MAP_LOCKED;
#endif
  void *base = mmap(NULL, length, prot, anon, -1, 0);
  if (base == MAP_FAILED) {
    *code = -errno;
    return NULL;
  }
  void *p;
  if (offset < have) {
    size_t file_length = (size_t)shmem__align_up(have - offset, page);
    p = mmap(base, file_length, prot, flags | MAP_FIXED, fd, (off_t)offset);
  } else {
    int probe = flags;
#ifdef MAP_POPULATE
    probe &= ~MAP_POPULATE;
#endif
#ifdef MAP_LOCKED
    probe &= ~MAP_LOCKED;
#endif
    p = mmap(NULL, page, prot, probe, fd, (off_t)offset);
    if (p != MAP_FAILED) munmap(p, page);
  }
  if (p == MAP_FAILED) {
    *code = -errno;
    munmap(base, length);
    return NULL;
  }
  return base;
}

int shmem_map(void **addr, uint64_t size, int prot, int flags, int fd, uint64_t offset,
              int advice, shmem_err_t *err) {
  *addr = NULL;
  if (advice >= 0 && !shmem_advice_allowed(advice)) return shmem__fail(err, -EINVAL, "madvise");
  if (size == 0 || size > (uint64_t)SIZE_MAX / 2) return shmem__fail(err, -EINVAL, "mmap");
  if (prot == PROT_NONE || (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) != 0) {
    return shmem__fail(err, -EINVAL, "mmap");
  }
  if (!map_flags_allowed(flags)) return shmem__fail(err, -EINVAL, "mmap");
  if (offset % shmem_page_size() != 0 || offset > (uint64_t)INT64_MAX - size) {
    return shmem__fail(err, -EINVAL, "mmap");
  }
  uint64_t have = 0;
  int backed = 0;
  if (flags & MAP_ANONYMOUS) {
    fd = -1;
  } else {
    if (fd < 0) return shmem__fail(err, -EBADF, "mmap");
    backed = backed_size(fd, &have);
    if (backed < 0) return shmem__fail(err, backed, backed == -ENODEV ? "mmap" : "fstat");
  }
  void *p;
  int code = 0;
  if (backed && offset + size > have) {
#ifdef MAP_HUGETLB
    /* A hugetlbfs file is sized in huge pages by whoever made it; no anonymous stand-in. */
    if (flags & MAP_HUGETLB) return shmem__fail(err, SHMEM_ETOOSMALL, "fstat");
#endif
    p = map_past_end(size, prot, flags, fd, offset, have, &code);
  } else {
    p = mmap(NULL, (size_t)raw_map_length(size, flags), prot, flags, fd, (off_t)offset);
    if (p == MAP_FAILED) {
      p = NULL;
      code = -errno;
    }
  }
  if (p == NULL) {
#ifdef MAP_HUGETLB
    if (flags & MAP_HUGETLB) code = shmem__hugetlb_error(code);
#endif
    return shmem__fail(err, code, "mmap");
  }
  if (advice >= 0 && madvise(p, (size_t)size, advice) != 0) {
    code = -errno;
    munmap(p, (size_t)raw_map_length(size, flags));
    return shmem__fail(err, code, "madvise");
  }
  *addr = p;
  return 0;
}

int shmem_unmap(void *addr, uint64_t size, int flags) {
  return munmap(addr, (size_t)raw_map_length(size, flags)) == 0 ? 0 : -errno;
}

int shmem_map_release(void *addr, uint64_t size, int prot, int flags) {
  int anon = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | (flags & MAP_NORESERVE);
  void *p = mmap(addr, (size_t)raw_map_length(size, flags), prot, anon, -1, 0);
  return p == MAP_FAILED ? -errno : 0;
}

void shmem_map_segment(shmem_segment_t *seg, void *addr, uint64_t size, int flags) {
  memset(seg, 0, sizeof(*seg));
  seg->kind = SHMEM_KIND_FILE;
  seg->fd = -1;
  seg->shmid = -1;
  seg->data = seg->map_base = addr;
  seg->size = size;
  seg->map_length = raw_map_length(size, flags);
}
