/* The memory controls of a segment (madvise, mincore, mlock), raw shmem_map, and hugetlb
 * requests on a system without huge pages. Every name and key is unique to this run and
 * removed by the test that made it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "shmem.h"

#ifndef MADV_HWPOISON
#define MADV_HWPOISON 100
#endif

static int name_counter;

static void make_name(char *buf, size_t size) {
  snprintf(buf, size, "/shmem-ctest-%d-%d", (int)getpid(), ++name_counter);
}

/* Unlinks every name this run made and counts those still there (see test_segment.c). */
static int sweep_names(void) {
  int left = 0;
  for (int i = 1; i <= name_counter; i++) {
    char name[64];
    snprintf(name, sizeof(name), "/shmem-ctest-%d-%d", (int)getpid(), i);
    if (shm_unlink(name) == 0) {
      fprintf(stderr, "left behind: %s\n", name);
      left++;
    }
  }
  return left;
}

/* A number from /proc/self/status ("VmLck:  256 kB" gives 256), or -1. */
static long status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "re");
  if (f == NULL) return -1;
  char line[256];
  size_t n = strlen(key);
  long value = -1;
  while (fgets(line, sizeof(line), f) != NULL) {
    if (strncmp(line, key, n) == 0 && line[n] == ':') {
      value = strtol(line + n + 1, NULL, 10);
      break;
    }
  }
  fclose(f);
  return value;
}

static long huge_pages_free(void) {
  FILE *f = fopen("/proc/meminfo", "re");
  if (f == NULL) return -1;
  char line[256];
  long value = -1;
  while (fgets(line, sizeof(line), f) != NULL) {
    if (strncmp(line, "HugePages_Free:", 15) == 0) {
      value = strtol(line + 15, NULL, 10);
      break;
    }
  }
  fclose(f);
  return value;
}

/* 1 when locking with mlock(2) (or mlock2(2) when on_fault) shows in VmLck. AddressSanitizer
 * turns mlock and munlock into no-ops that return 0, so under it only the return codes and
 * flags can be checked, not the effect. */
static int lock_takes_effect(int on_fault) {
  size_t page = shmem_page_size();
  void *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 0;
  long before = status_kb("VmLck");
  int r = on_fault ? mlock2(p, page, MLOCK_ONFAULT) : mlock(p, page);
  int real = r == 0 && status_kb("VmLck") > before;
  munmap(p, page);
  return real;
}

/* Touches one byte in every page of the segment. */
static void touch_pages(shmem_segment_t *s) {
  size_t page = shmem_page_size();
  for (uint64_t off = 0; off < s->size; off += page) ((volatile char *)s->data)[off] = 1;
}

static void test_advise(void) {
  size_t page = shmem_page_size();
  char name[64];
  make_name(name, sizeof(name));
  shmem_options_t o;
  shmem_options_init(&o);
  shmem_segment_t a, b;
  shmem_err_t err = {0, NULL};
  CHECK_EQ_INT(shmem_advice_allowed(MADV_WILLNEED), 1);
  CHECK_EQ_INT(shmem_advice_allowed(MADV_HWPOISON), 0);
  CHECK_EQ_INT(shmem_advice_allowed(100), 0);
  if (CHECK_ERR(shmem_posix_create(&a, name, 4 * page, &o, NULL), 0)) {
    CHECK_ERR(shmem_advise(&a, MADV_WILLNEED, 0, 0, NULL), 0);
    CHECK_ERR(shmem_advise(&a, MADV_WILLNEED, page, page, NULL), 0);
    CHECK_ERR(shmem_advise(&a, MADV_WILLNEED, 4 * page, 0, NULL), 0);
    CHECK_ERR(shmem_advise(&a, 100, 0, 0, &err), -EINVAL);
    CHECK_ERR(err.code, -EINVAL);
    CHECK_EQ_STR(err.syscall, "madvise");
    CHECK_ERR(shmem_advise(&a, MADV_WILLNEED, 4 * page + 1, 0, NULL), -ERANGE);
    CHECK_ERR(shmem_advise(&a, MADV_WILLNEED, page, 3 * page + 1, NULL), -ERANGE);
    CHECK_ERR(shmem_advise(&a, MADV_WILLNEED, 0, UINT64_MAX, NULL), -ERANGE);
    CHECK_ERR(shmem_advise(&a, MADV_WILLNEED, UINT64_MAX, 2, NULL), -ERANGE);

    /* The range is widened to the pages it touches, no further: MADV_REMOVE frees exactly
     * page 1 of the object, which then reads as zeros through every mapping. */
    memset(a.data, 0x77, 4 * page);
    CHECK_ERR(shmem_advise(&a, MADV_REMOVE, page + 10, 10, NULL), 0);
    const unsigned char *d = a.data;
    CHECK_EQ_INT(d[page - 1], 0x77);
    CHECK_EQ_INT(d[page], 0);
    CHECK_EQ_INT(d[2 * page - 1], 0);
    CHECK_EQ_INT(d[2 * page], 0x77);
    if (CHECK_ERR(shmem_posix_open(&b, name, &o, NULL), 0)) {
      CHECK_EQ_INT(((unsigned char *)b.data)[page + 100], 0);
      CHECK_EQ_INT(((unsigned char *)b.data)[3 * page], 0x77);
    }
    shmem_segment_close(&b);
    /* A range that is whole pages already is not widened either. */
    CHECK_ERR(shmem_advise(&a, MADV_REMOVE, 2 * page, page, NULL), 0);
    CHECK_EQ_INT(d[2 * page - 1], 0);
    CHECK_EQ_INT(d[2 * page], 0);
    CHECK_EQ_INT(d[3 * page - 1], 0);
    CHECK_EQ_INT(d[3 * page], 0x77);
    CHECK_EQ_INT(d[page - 1], 0x77);
  }
  shmem_segment_close(&a);
  CHECK_ERR(shmem_advise(&a, MADV_WILLNEED, 0, 0, NULL), -EBADF);
  shm_unlink(name);
}

static void test_residency(void) {
  size_t page = shmem_page_size();
  char name[64];
  make_name(name, sizeof(name));
  shmem_options_t o;
  shmem_options_init(&o);
  shmem_segment_t s;
  uint64_t resident = 99, total = 99;
  if (CHECK_ERR(shmem_posix_create(&s, name, 16 * page, &o, NULL), 0)) {
    CHECK_ERR(shmem_residency(&s, 0, 0, &resident, &total, NULL), 0);
    CHECK_EQ_U64(total, 16);
    CHECK_EQ_U64(resident, 0);
    ((volatile char *)s.data)[5 * page + 7] = 1;
    CHECK_ERR(shmem_residency(&s, 0, 0, &resident, &total, NULL), 0);
    CHECK_EQ_U64(resident, 1);
    touch_pages(&s);
    CHECK_ERR(shmem_residency(&s, 0, 0, &resident, &total, NULL), 0);
    CHECK_EQ_U64(total, 16);
    CHECK_EQ_U64(resident, 16);
    /* Part of a page counts as the page. */
    CHECK_ERR(shmem_residency(&s, page + 10, 1, &resident, &total, NULL), 0);
    CHECK_EQ_U64(total, 1);
    CHECK_EQ_U64(resident, 1);
    CHECK_ERR(shmem_residency(&s, page - 1, 2, &resident, &total, NULL), 0);
    CHECK_EQ_U64(total, 2);
    CHECK_ERR(shmem_residency(&s, 0, 16 * page + 1, &resident, &total, NULL), -ERANGE);
  }
  shmem_segment_close(&s);
  shm_unlink(name);
}

static void test_populate(void) {
  size_t page = shmem_page_size();
  char name[64];
  make_name(name, sizeof(name));
  shmem_options_t o;
  shmem_options_init(&o);
  o.flags = SHMEM_F_POPULATE;
  shmem_segment_t s;
  uint64_t resident = 0, total = 0;
  if (CHECK_ERR(shmem_posix_create(&s, name, 16 * page, &o, NULL), 0)) {
    CHECK(s.flags & SHMEM_F_POPULATE);
    CHECK_ERR(shmem_residency(&s, 0, 0, &resident, &total, NULL), 0);
    CHECK_EQ_U64(total, 16);
    CHECK_EQ_U64(resident, total);
  }
  shmem_segment_close(&s);
  shm_unlink(name);

  o.name = "shmem-ctest-populate";
  if (CHECK_ERR(shmem_memfd_create(&s, 16 * page, &o, NULL), 0)) {
    CHECK_ERR(shmem_residency(&s, 0, 0, &resident, &total, NULL), 0);
    CHECK_EQ_U64(resident, 16);
  }
  shmem_segment_close(&s);
}

static void test_lock(void) {
  size_t page = shmem_page_size();
  const long kb = (long)(64 * page / 1024);
  int real = lock_takes_effect(0);
  int real_onfault = lock_takes_effect(1);
  if (!real) printf("skip mlock effects: mlock(2) is a no-op here (AddressSanitizer)\n");
  if (!real_onfault) printf("skip mlock2 effects: mlock2(2) is a no-op here\n");
  char name[64];
  make_name(name, sizeof(name));
  shmem_options_t o;
  shmem_options_init(&o);
  shmem_segment_t s;
  uint64_t resident = 0, total = 0;
  shmem_err_t err = {0, NULL};
  long before = status_kb("VmLck");
  CHECK(before >= 0);
  if (CHECK_ERR(shmem_posix_create(&s, name, 64 * page, &o, NULL), 0)) {
    CHECK_ERR(shmem_lock_memory(&s, 0, &err), 0);
    CHECK(s.flags & SHMEM_F_LOCK);
    if (real) {
      CHECK_EQ_INT(status_kb("VmLck"), before + kb);
      /* mlock faults every page in. */
      CHECK_ERR(shmem_residency(&s, 0, 0, &resident, &total, NULL), 0);
      CHECK_EQ_U64(resident, 64);
    }
    CHECK_ERR(shmem_unlock_memory(&s, &err), 0);
    CHECK_EQ_INT(s.flags & (SHMEM_F_LOCK | SHMEM_F_LOCK_ONFAULT), 0);
    if (real) CHECK_EQ_INT(status_kb("VmLck"), before);
  }
  shmem_segment_close(&s);
  shm_unlink(name);

  make_name(name, sizeof(name));
  if (CHECK_ERR(shmem_posix_create(&s, name, 64 * page, &o, NULL), 0)) {
    CHECK_ERR(shmem_lock_memory(&s, 1, NULL), 0);
    CHECK_EQ_INT(s.flags & (SHMEM_F_LOCK | SHMEM_F_LOCK_ONFAULT), SHMEM_F_LOCK_ONFAULT);
    if (real_onfault) {
      CHECK_EQ_INT(status_kb("VmLck"), before + kb);
      /* On fault: nothing is brought in until touched. */
      CHECK_ERR(shmem_residency(&s, 0, 0, &resident, &total, NULL), 0);
      CHECK_EQ_U64(resident, 0);
    }
    CHECK_ERR(shmem_unlock_memory(&s, NULL), 0);
    CHECK_EQ_INT(s.flags & (SHMEM_F_LOCK | SHMEM_F_LOCK_ONFAULT), 0);
    if (real) CHECK_EQ_INT(status_kb("VmLck"), before);
  }
  shmem_segment_close(&s);
  CHECK_EQ_INT(status_kb("VmLck"), before);
  shm_unlink(name);

  /* The flag at open does the same. */
  make_name(name, sizeof(name));
  o.flags = SHMEM_F_LOCK;
  if (CHECK_ERR(shmem_posix_create(&s, name, 64 * page, &o, NULL), 0)) {
    CHECK(s.flags & SHMEM_F_LOCK);
    if (real) CHECK_EQ_INT(status_kb("VmLck"), before + kb);
  }
  shmem_segment_close(&s);
  CHECK_EQ_INT(status_kb("VmLck"), before);
  shm_unlink(name);

  CHECK_ERR(shmem_lock_memory(&s, 0, NULL), -EBADF);
  CHECK_ERR(shmem_unlock_memory(&s, NULL), -EBADF);
}

/* What shmem_map() refuses before it looks at the flags. */
static void test_map_refused_early(void) {
  size_t page = shmem_page_size();
  void *p = (void *)1;
  shmem_err_t err = {0, NULL};
  const int rw = PROT_READ | PROT_WRITE;

  CHECK_ERR(shmem_map(&p, page, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS, -1, 0, -1, &err),
            -EINVAL);
  CHECK(p == NULL);
  CHECK_EQ_STR(err.syscall, "mmap");
  CHECK_ERR(shmem_map(&p, 0, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0, -1, NULL), -EINVAL);
  CHECK_ERR(shmem_map(&p, page, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0, MADV_HWPOISON, NULL),
            -EINVAL);
}

/* 1 when any page of [addr, addr + len) is mapped. */
static int is_mapped(void *addr, size_t len) {
  size_t page = shmem_page_size();
  unsigned char vec[64];
  for (size_t off = 0; off < len; off += page) {
    if (mincore((char *)addr + off, page, vec) == 0) return 1;
  }
  return 0;
}

/* Raw maps, anonymous and of a file. Every call that gets as far as checking its flags once
 * shifted 0x3f left by 26 in int (map_flags_allowed), which this UBSan build aborts on. */
static void test_map(void) {
  size_t page = shmem_page_size();
  void *p = (void *)1;
  shmem_err_t err = {0, NULL};
  const int rw = PROT_READ | PROT_WRITE;

  CHECK_ERR(shmem_map(&p, page, rw, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0, -1, NULL),
            -EINVAL);
  CHECK(p == NULL);
#ifdef MAP_FIXED_NOREPLACE
  CHECK_ERR(shmem_map(&p, page, rw, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0, -1,
                      NULL),
            -EINVAL);
#endif

  /* Anonymous and shared, with a size that is not a whole number of pages. */
  size_t size = 3 * page + 1;
  if (CHECK_ERR(shmem_map(&p, size, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0, MADV_WILLNEED, NULL),
                0)) {
    CHECK(p != NULL);
    memset(p, 0x42, size);
    CHECK_EQ_INT(((unsigned char *)p)[size - 1], 0x42);
    CHECK(is_mapped(p, 4 * page));
    CHECK_ERR(shmem_unmap(p, size, MAP_SHARED | MAP_ANONYMOUS), 0);
    CHECK(!is_mapped(p, 4 * page));
  }

  char dir[] = "/tmp/shmem-ctest-XXXXXX";
  if (CHECK(mkdtemp(dir) != NULL)) {
    char path[128];
    snprintf(path, sizeof(path), "%s/file", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK_EQ_INT(ftruncate(fd, (off_t)(2 * page)), 0);
    CHECK_EQ_INT(pwrite(fd, "second page", 12, (off_t)page), 12);
    err.code = 0;
    /* Past the end: the file's pages, then anonymous zeros that take writes no file sees. */
    if (CHECK_ERR(shmem_map(&p, 3 * page + 5, rw, MAP_SHARED, fd, page, -1, NULL), 0)) {
      unsigned char *b = p;
      CHECK_EQ_STR((const char *)b, "second page");
      CHECK_EQ_INT(b[page], 0);
      CHECK_EQ_INT(b[3 * page + 4], 0);
      memset(b + page, 0x33, 2 * page + 5);
      CHECK_EQ_INT(b[3 * page + 4], 0x33);
      struct stat st;
      CHECK_EQ_INT(fstat(fd, &st), 0);
      CHECK_EQ_INT(st.st_size, (off_t)(2 * page));
      CHECK_ERR(shmem_unmap(p, 3 * page + 5, MAP_SHARED), 0);
      CHECK(!is_mapped(p, 4 * page));
    }
    /* Wholly past the end; a shared writable mapping of a read-only fd is still EACCES. */
    if (CHECK_ERR(shmem_map(&p, page, rw, MAP_SHARED, fd, 4 * page, -1, NULL), 0)) {
      ((unsigned char *)p)[page - 1] = 1;
      CHECK_ERR(shmem_unmap(p, page, MAP_SHARED), 0);
    }
    int ro = open(path, O_RDONLY | O_CLOEXEC);
    CHECK_ERR(shmem_map(&p, page, rw, MAP_SHARED, ro, 4 * page, -1, NULL), -EACCES);
    CHECK_ERR(shmem_map(&p, 3 * page, rw, MAP_SHARED, ro, 0, -1, NULL), -EACCES);
    close(ro);
    /* Released: the addresses stay, as zero pages the file no longer backs. */
    if (CHECK_ERR(shmem_map(&p, page, rw, MAP_SHARED, fd, page, -1, NULL), 0)) {
      CHECK_ERR(shmem_map_release(p, page, rw, MAP_SHARED), 0);
      CHECK_EQ_INT(((unsigned char *)p)[0], 0);
      ((unsigned char *)p)[0] = 9;
      char c = 0;
      CHECK_EQ_INT(pread(fd, &c, 1, (off_t)page), 1);
      CHECK_EQ_INT(c, 's');
      CHECK_ERR(shmem_unmap(p, page, MAP_SHARED), 0);
    }
    int fds[2];
    if (CHECK_EQ_INT(pipe(fds), 0)) {
      CHECK_ERR(shmem_map(&p, page, PROT_READ, MAP_SHARED, fds[0], 0, -1, &err), -ENODEV);
      close(fds[0]);
      close(fds[1]);
    }
#ifdef __linux__
    int zero = open("/dev/zero", O_RDWR | O_CLOEXEC);
    if (CHECK(zero >= 0)) {
      if (CHECK_ERR(shmem_map(&p, 2 * page, rw, MAP_SHARED, zero, 0, -1, NULL), 0)) {
        ((unsigned char *)p)[2 * page - 1] = 1;
        CHECK_ERR(shmem_unmap(p, 2 * page, MAP_SHARED), 0);
      }
      close(zero);
    }
#endif
    CHECK_ERR(shmem_map(&p, page, rw, MAP_SHARED, fd, 100, -1, NULL), -EINVAL);
    CHECK_ERR(shmem_map(&p, page, rw, MAP_SHARED, -1, 0, -1, NULL), -EBADF);
    if (CHECK_ERR(shmem_map(&p, page, rw, MAP_SHARED, fd, page, -1, NULL), 0)) {
      CHECK_EQ_STR((const char *)p, "second page");
      memcpy(p, "written", 8);
      char buf[8] = {0};
      CHECK_EQ_INT(pread(fd, buf, 8, (off_t)page), 8);
      CHECK_EQ_STR(buf, "written");
      CHECK_ERR(shmem_unmap(p, page, MAP_SHARED), 0);
    }
    close(fd);
    CHECK_EQ_INT(unlink(path), 0);
    CHECK_EQ_INT(rmdir(dir), 0);
  }

  long free_pages = huge_pages_free();
  uint64_t huge = shmem_huge_page_size();
  if (free_pages != 0 || huge == 0) {
    printf("skip MAP_HUGETLB: HugePages_Free is %ld, huge page size %llu (needs 0 free)\n",
           free_pages, (unsigned long long)huge);
    return;
  }
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
  err.code = 0;
  int r = shmem_map(&p, huge, rw, flags, -1, 0, -1, &err);
  if (!CHECK_ERR(r, SHMEM_ENOHUGEPAGES) && r == 0) shmem_unmap(p, huge, flags);
  CHECK_ERR(err.code, SHMEM_ENOHUGEPAGES);
  CHECK_EQ_STR(err.syscall, "mmap");
}

static void test_hugetlb_without_huge_pages(void) {
  long free_pages = huge_pages_free();
  uint64_t huge = shmem_huge_page_size();
  if (free_pages != 0 || huge == 0) {
    printf("skip hugetlb: HugePages_Free is %ld, huge page size %llu (needs 0 free)\n",
           free_pages, (unsigned long long)huge);
    return;
  }
  shmem_options_t o;
  shmem_options_init(&o);
  o.flags = SHMEM_F_HUGETLB;
  shmem_segment_t s;
  shmem_err_t err = {0, NULL};
  CHECK_ERR(shmem_memfd_create(&s, huge, &o, &err), SHMEM_ENOHUGEPAGES);
  CHECK_ERR(err.code, SHMEM_ENOHUGEPAGES);
  CHECK_EQ_INT(s.fd, -1);
  shmem_segment_close(&s);
  int r = shmem_sysv_create(&s, SHMEM_KEY_FRESH, huge, &o, NULL);
  CHECK_ERR(r, SHMEM_ENOHUGEPAGES);
  if (r == 0) shmem_sysv_remove_id(s.shmid, NULL);
  shmem_segment_close(&s);
}

int main(void) {
  test_advise();
  test_residency();
  test_populate();
  test_lock();
  test_map_refused_early();
  test_map();
  test_hugetlb_without_huge_pages();
  CHECK_EQ_INT(sweep_names(), 0);
  return CHECK_REPORT();
}
