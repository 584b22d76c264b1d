/* Segments backed by a file descriptor: POSIX objects, memfds, inherited fds and files. */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Copies src into dst, cutting it to fit. */
static void copy_name(char *dst, size_t dst_size, const char *src) {
  size_t n = strlen(src);
  if (n >= dst_size) n = dst_size - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

void shmem_options_init(shmem_options_t *opts) {
  memset(opts, 0, sizeof(*opts));
  opts->mode = 0600;
}

void shmem__segment_reset(shmem_segment_t *seg) {
  memset(seg, 0, sizeof(*seg));
  seg->fd = -1;
  seg->shmid = -1;
}

int shmem_name_normalize(const char *name, char *out, size_t out_size) {
  if (name == NULL) return -EINVAL;
  const char *base = name[0] == '/' ? name + 1 : name;
  size_t len = strlen(base);
  if (len == 0 || strchr(base, '/') != NULL) return -EINVAL;
  if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0) return -EINVAL;
  if (len > SHMEM_NAME_MAX || len + 2 > out_size) return -ENAMETOOLONG;
  out[0] = '/';
  memcpy(out + 1, base, len + 1);
  return 0;
}

static int check_size(uint64_t size, unsigned flags) {
  if (size == 0 || size > (uint64_t)INT64_MAX) return -EINVAL;
  if (flags & SHMEM_F_HUGETLB) {
    uint64_t huge = shmem_huge_page_size();
    if (huge == 0) return SHMEM_ENOHUGEPAGES;
    if (size % huge != 0) return -EINVAL;
  }
  return 0;
}

int shmem__after_map(shmem_segment_t *seg, shmem_err_t *err) {
  if (seg->flags & SHMEM_F_POPULATE) {
    /* MADV_POPULATE_* (Linux 5.14) faults every page in now and, unlike MAP_POPULATE, reports
     * failure: a full /dev/shm gives an error here instead of a SIGBUS on first touch. */
#ifdef MADV_POPULATE_WRITE
    int advice = (seg->flags & SHMEM_F_READONLY) ? MADV_POPULATE_READ : MADV_POPULATE_WRITE;
    if (madvise(seg->map_base, seg->map_length, advice) != 0) {
      int e = errno;
      if (e == EFAULT) return shmem__fail(err, -ENOSPC, "madvise");
      if (e != EINVAL) return shmem__fail(err, -e, "madvise");
      /* EINVAL: a kernel without MADV_POPULATE_*; touching each page does the same work. */
      size_t page = shmem_page_size();
      volatile const char *p = (volatile const char *)seg->map_base;
      for (uint64_t off = 0; off < seg->map_length; off += page) (void)p[off];
    }
#else
    size_t page = shmem_page_size();
    volatile const char *p = (volatile const char *)seg->map_base;
    for (uint64_t off = 0; off < seg->map_length; off += page) (void)p[off];
#endif
  }
  if (seg->flags & (SHMEM_F_LOCK | SHMEM_F_LOCK_ONFAULT)) {
    int r = shmem_lock_memory(seg, (seg->flags & SHMEM_F_LOCK_ONFAULT) != 0, err);
    if (r < 0) return r;
  }
  return 0;
}

int shmem__map_fd(shmem_segment_t *seg, int fd, uint64_t size, uint64_t offset, unsigned flags,
                  shmem_err_t *err) {
  uint64_t page = shmem_page_size();
  if (flags & SHMEM_F_HUGETLB) page = shmem_huge_page_size();
  uint64_t delta = offset % page;
  uint64_t start = offset - delta;
  if (size == 0 || size > (uint64_t)INT64_MAX - delta || offset > (uint64_t)INT64_MAX) {
    return shmem__fail(err, -EINVAL, "mmap");
  }
  uint64_t length = size + delta;
  if (length > (uint64_t)SIZE_MAX) return shmem__fail(err, -ENOMEM, "mmap");

  int prot = PROT_READ | ((flags & SHMEM_F_READONLY) ? 0 : PROT_WRITE);
  int mflags = (flags & SHMEM_F_PRIVATE) ? MAP_PRIVATE : MAP_SHARED;
  void *p = mmap(NULL, (size_t)length, prot, mflags, fd, (off_t)start);
  if (p == MAP_FAILED) {
    int code = -errno;
    if (flags & SHMEM_F_HUGETLB) code = shmem__hugetlb_error(code);
    return shmem__fail(err, code, "mmap");
  }
  seg->map_base = p;
  seg->map_length = length;
  seg->data = (char *)p + delta;
  seg->size = size;
  seg->flags = flags;
  int r = shmem__after_map(seg, err);
  if (r < 0) {
    munmap(seg->map_base, (size_t)seg->map_length);
    seg->map_base = seg->data = NULL;
    seg->map_length = seg->size = 0;
  }
  return r;
}

/* Maps an object that already exists: opts->size bytes from opts->offset, or everything from
 * the offset on. The size check is what turns a would-be SIGBUS into SHMEM_ETOOSMALL. */
static int map_existing(shmem_segment_t *seg, int fd, const shmem_options_t *opts,
                        uint64_t *object_size, shmem_err_t *err) {
  struct stat st;
  if (fstat(fd, &st) != 0) return shmem__fail(err, -errno, "fstat");
  if (S_ISDIR(st.st_mode)) return shmem__fail(err, -EISDIR, "mmap");
  if (!S_ISREG(st.st_mode)) return shmem__fail(err, -ENODEV, "mmap");
  uint64_t have = (uint64_t)st.st_size;
  if (object_size != NULL) *object_size = have;
  uint64_t size = opts->size;
  if (opts->offset > have) return shmem__fail(err, SHMEM_ETOOSMALL, "fstat");
  if (size == 0) size = have - opts->offset;
  if (size == 0 || size > have - opts->offset) {
    return shmem__fail(err, SHMEM_ETOOSMALL, "fstat");
  }
  return shmem__map_fd(seg, fd, size, opts->offset, opts->flags, err);
}

int shmem_posix_create(shmem_segment_t *seg, const char *name, uint64_t size,
                       const shmem_options_t *opts, shmem_err_t *err) {
  shmem__segment_reset(seg);
  seg->kind = SHMEM_KIND_POSIX;
  int r = shmem_name_normalize(name, seg->name, sizeof(seg->name));
  if (r < 0) return shmem__fail(err, r, "shm_open");
  /* tmpfs, which holds POSIX objects, cannot give hugetlb pages. */
  if (opts->flags & (SHMEM_F_HUGETLB | SHMEM_F_PRIVATE)) return shmem__fail(err, -EINVAL, NULL);
  r = check_size(size, 0);
  if (r < 0) return shmem__fail(err, r, "ftruncate");

  int fd = shm_open(seg->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)opts->mode);
  if (fd < 0) return shmem__fail(err, -errno, "shm_open");
  if (ftruncate(fd, (off_t)size) != 0) {
    r = shmem__fail(err, -errno, "ftruncate");
    goto fail;
  }
  shmem_options_t o = *opts;
  o.size = size;
  o.offset = 0;
  r = shmem__map_fd(seg, fd, size, 0, o.flags, err);
  if (r < 0) goto fail;
  seg->fd = fd;
  seg->created = 1;
  return 0;

fail:
  /* The name is ours (O_EXCL): leave nothing behind. */
  close(fd);
  shm_unlink(seg->name);
  return r;
}

/* Opens and maps an existing object. With want > 0 the object must hold at least want bytes;
 * *object_size reports what it held, so open_or_create can tell "not sized yet" apart. */
static int posix_open(shmem_segment_t *seg, const char *name, const shmem_options_t *opts,
                      uint64_t *object_size, shmem_err_t *err) {
  shmem__segment_reset(seg);
  seg->kind = SHMEM_KIND_POSIX;
  int r = shmem_name_normalize(name, seg->name, sizeof(seg->name));
  if (r < 0) return shmem__fail(err, r, "shm_open");
  if (opts->flags & (SHMEM_F_HUGETLB | SHMEM_F_PRIVATE)) return shmem__fail(err, -EINVAL, NULL);
  int oflag = ((opts->flags & SHMEM_F_READONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  int fd = shm_open(seg->name, oflag, 0);
  if (fd < 0) return shmem__fail(err, -errno, "shm_open");
  shmem_options_t o = *opts;
  o.offset = 0;
  r = map_existing(seg, fd, &o, object_size, err);
  if (r < 0) {
    close(fd);
    return r;
  }
  seg->fd = fd;
  return 0;
}

int shmem_posix_open(shmem_segment_t *seg, const char *name, const shmem_options_t *opts,
                     shmem_err_t *err) {
  return posix_open(seg, name, opts, NULL, err);
}

int shmem_posix_open_or_create(shmem_segment_t *seg, const char *name, uint64_t size,
                               const shmem_options_t *opts, shmem_err_t *err) {
  shmem_options_t o = *opts;
  o.size = size;
  /* Between another process's shm_open(O_CREAT) and its ftruncate the object exists with size
   * 0; wait for it a little (up to ~100 ms) rather than fail on a race the user cannot see. */
  for (int attempt = 0; attempt < 100; attempt++) {
    int r = shmem_posix_create(seg, name, size, &o, err);
    if (r != -EEXIST) return r;
    uint64_t have = 0;
    r = posix_open(seg, name, &o, &have, err);
    if (r == 0) return 0;
    if (r == -ENOENT) continue; /* unlinked between the two calls: try to create again */
    if (r == SHMEM_ETOOSMALL && have == 0) {
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
      continue;
    }
    return r;
  }
  return shmem__fail(err, SHMEM_ETOOSMALL, "fstat");
}

int shmem_posix_unlink(const char *name, shmem_err_t *err) {
  char normal[SHMEM_NAME_MAX + 2];
  int r = shmem_name_normalize(name, normal, sizeof(normal));
  if (r < 0) return shmem__fail(err, r, "shm_unlink");
  if (shm_unlink(normal) != 0) return shmem__fail(err, -errno, "shm_unlink");
  return 0;
}

int shmem_memfd_create(shmem_segment_t *seg, uint64_t size, const shmem_options_t *opts,
                       shmem_err_t *err) {
  shmem__segment_reset(seg);
  seg->kind = SHMEM_KIND_MEMFD;
#if SHMEM_LINUX
  const char *name = opts->name != NULL ? opts->name : "shmem";
  if (strlen(name) >= sizeof(seg->name) - 6) return shmem__fail(err, -ENAMETOOLONG, "memfd_create");
  copy_name(seg->name, sizeof(seg->name), name);
  if (opts->flags & SHMEM_F_PRIVATE) return shmem__fail(err, -EINVAL, NULL);
  int r = check_size(size, opts->flags);
  if (r < 0) return shmem__fail(err, r, r == SHMEM_ENOHUGEPAGES ? "memfd_create" : "ftruncate");

  unsigned mfd = MFD_CLOEXEC;
  if (opts->flags & SHMEM_F_SEAL) mfd |= MFD_ALLOW_SEALING;
  if (opts->flags & SHMEM_F_HUGETLB) mfd |= MFD_HUGETLB;
  int fd = memfd_create(name, mfd);
  if (fd < 0) {
    int code = -errno;
    if (opts->flags & SHMEM_F_HUGETLB) code = shmem__hugetlb_error(code);
    return shmem__fail(err, code, "memfd_create");
  }
  if (ftruncate(fd, (off_t)size) != 0) {
    r = shmem__fail(err, -errno, "ftruncate");
    goto fail;
  }
  if ((opts->flags & SHMEM_F_SEAL) && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
    r = shmem__fail(err, -errno, "fcntl");
    goto fail;
  }
  /* The fd carries the hugetlb property: mmap must not be given MAP_HUGETLB for it. */
  r = shmem__map_fd(seg, fd, size, 0, opts->flags, err);
  if (r < 0) goto fail;
  seg->fd = fd;
  seg->created = 1;
  return 0;

fail:
  close(fd);
  return r;
#else
  (void)size;
  (void)opts;
  return shmem__fail(err, -ENOSYS, "memfd_create");
#endif
}

shmem_kind_t shmem__fd_link_kind(char *target, char *name, size_t name_size) {
  name[0] = '\0';
  if (strncmp(target, "/memfd:", 7) == 0) {
    char *end = strstr(target, " (deleted)");
    if (end != NULL) *end = '\0';
    copy_name(name, name_size, target + 7);
    return SHMEM_KIND_MEMFD;
  }
  if (strncmp(target, "/dev/shm/", 9) == 0 && strchr(target + 9, '/') == NULL) {
    /* The candidate name, as the link shows it: fd_kind() keeps it only if it is still this
     * very object's (see there). */
    if (strlen(target + 9) <= SHMEM_NAME_MAX) snprintf(name, name_size, "/%s", target + 9);
    return SHMEM_KIND_POSIX;
  }
  return SHMEM_KIND_FILE;
}

/* Names what an fd refers to, from /proc: a memfd, an object in /dev/shm, or a file. */
static shmem_kind_t fd_kind(int fd, char *name, size_t name_size) {
  name[0] = '\0';
#if SHMEM_LINUX
  char link[64], target[4096];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof(target) - 1);
  if (n <= 0) return SHMEM_KIND_FILE;
  target[n] = '\0';
  shmem_kind_t kind = shmem__fd_link_kind(target, name, name_size);
  /* The link shows the path the object had when it was opened, with " (deleted)" appended
   * once it is unlinked, and a live object may bear those very words in its name. So the
   * link is a name only when that path is, now, this very object (same device and inode): an
   * unlinked object has no name, and unlink() must never remove another object. */
  struct stat by_fd, by_name;
  if (kind == SHMEM_KIND_POSIX && name[0] != '\0' &&
      !(fstat(fd, &by_fd) == 0 && stat(target, &by_name) == 0 &&
        by_fd.st_dev == by_name.st_dev && by_fd.st_ino == by_name.st_ino)) {
    name[0] = '\0';
  }
  return kind;
#else
  (void)fd;
  (void)name_size;
  return SHMEM_KIND_FILE;
#endif
}

int shmem_fd_map(shmem_segment_t *seg, int fd, const shmem_options_t *opts, shmem_err_t *err) {
  shmem__segment_reset(seg);
  if (fd < 0) return shmem__fail(err, -EBADF, "fcntl");
  if (opts->flags & SHMEM_F_HUGETLB) return shmem__fail(err, -EINVAL, NULL);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return shmem__fail(err, -errno, "fcntl");
  shmem_options_t o = *opts;
  int acc = fl & O_ACCMODE;
  if (acc == O_WRONLY) return shmem__fail(err, -EACCES, "mmap");
  /* A read-only fd can still back a private writable mapping; a shared one must be read-only. */
  if (acc == O_RDONLY && !(o.flags & SHMEM_F_PRIVATE)) o.flags |= SHMEM_F_READONLY;
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (own < 0) return shmem__fail(err, -errno, "fcntl");
  int r = map_existing(seg, own, &o, NULL, err);
  if (r < 0) {
    close(own);
    return r;
  }
  seg->fd = own;
  seg->kind = fd_kind(own, seg->name, sizeof(seg->name));
  return 0;
}

int shmem_file_map(shmem_segment_t *seg, const char *path, const shmem_options_t *opts,
                   shmem_err_t *err) {
  shmem__segment_reset(seg);
  seg->kind = SHMEM_KIND_FILE;
  if (path == NULL || path[0] == '\0') return shmem__fail(err, -ENOENT, "open");
  if (opts->flags & SHMEM_F_HUGETLB) return shmem__fail(err, -EINVAL, NULL);
  int create = (opts->flags & SHMEM_F_CREATE) != 0;
  if (create && opts->size == 0) return shmem__fail(err, -EINVAL, NULL);
  int writes_file = !(opts->flags & (SHMEM_F_READONLY | SHMEM_F_PRIVATE));
  int acc = (writes_file || create) ? O_RDWR : O_RDONLY;
  int created = 0;
  int fd = -1;
  /* O_NOFOLLOW always: a symlink as the last component is refused (-ELOOP), so that a link
   * planted where the caller expects its own file (a shared /tmp) never redirects the mapping,
   * or the extension below, to another file. O_EXCL does not follow links either. */
  if (create) {
    fd = open(path, acc | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)opts->mode);
    if (fd >= 0) created = 1;
    else if (errno != EEXIST) return shmem__fail(err, -errno, "open");
  }
  if (fd < 0) {
    /* O_NONBLOCK: a FIFO or device planted under the name must not hang the open. */
    fd = open(path, acc | O_NOFOLLOW | O_CLOEXEC | (create ? O_NONBLOCK : 0));
    if (fd < 0) return shmem__fail(err, -errno, "open");
  }
  int r;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    r = shmem__fail(err, -errno, "fstat");
    goto fail;
  }
  /* create adopts a file that exists only when it is a regular file of the caller's own
   * (effective) user: anything else would extend, and hand out for writing, a file another
   * user made, perhaps pre-created in a shared directory to be written by us. */
  if (create && !created) {
    if (!S_ISREG(st.st_mode)) {
      r = shmem__fail(err, S_ISDIR(st.st_mode) ? -EISDIR : -ENODEV, "open");
      goto fail;
    }
    if (st.st_uid != geteuid()) {
      r = shmem__fail(err, -EPERM, "open");
      goto fail;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
      r = shmem__fail(err, -errno, "fcntl");
      goto fail;
    }
  }
  if (create && S_ISREG(st.st_mode)) {
    if (opts->offset > (uint64_t)INT64_MAX - opts->size) {
      r = shmem__fail(err, -EFBIG, "ftruncate");
      goto fail;
    }
    uint64_t need = opts->offset + opts->size;
    /* Only ever extends: a file that is long enough is never truncated. */
    if ((uint64_t)st.st_size < need && ftruncate(fd, (off_t)need) != 0) {
      r = shmem__fail(err, -errno, "ftruncate");
      goto fail;
    }
  }
  r = map_existing(seg, fd, opts, NULL, err);
  if (r < 0) goto fail;
  seg->kind = SHMEM_KIND_FILE;
  seg->fd = fd;
  seg->created = created;
  return 0;

fail:
  close(fd);
  if (created) unlink(path);
  return r;
}

void shmem_segment_close(shmem_segment_t *seg) {
  if (seg->map_base != NULL) {
    if (seg->kind == SHMEM_KIND_SYSV) shmdt(seg->map_base);
    else munmap(seg->map_base, (size_t)seg->map_length);
  }
  if (seg->fd >= 0) close(seg->fd);
  seg->map_base = seg->data = NULL;
  seg->map_length = 0;
  seg->fd = -1;
}

int shmem_segment_unlink(shmem_segment_t *seg, shmem_err_t *err) {
  switch (seg->kind) {
    case SHMEM_KIND_POSIX:
      /* No name: fd_map of an object that was already unlinked. Its name is gone. */
      if (seg->name[0] == '\0') return shmem__fail(err, -ENOENT, "shm_unlink");
      return shmem_posix_unlink(seg->name, err);
    case SHMEM_KIND_SYSV:
      return shmem_sysv_remove_id(seg->shmid, err);
    default:
      return shmem__fail(err, SHMEM_EKIND, NULL);
  }
}
