/* libFuzzer target: the core's parsers of text the kernel (or a file's name) hands us.
 * The first input byte picks the parser, the rest is its text:
 *   0: a /proc/<tid>/stat line (shmem__proc_stat_parse: lock and channel liveness);
 *   1: /proc/meminfo (shmem__meminfo_scan: the huge page size and free count);
 *   2: a /proc/self/fd link target (shmem__fd_link_kind: what fromFd() maps);
 *   3: /proc/loadavg (shmem__loadavg_crowded: whether waiters skip their spin).
 * The text is copied into a buffer of exactly its length plus the NUL, so that AddressSanitizer
 * sees any read past the end. */
#include "internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static void proc_stat(const char *text) {
  uint64_t start = 0;
  int ended = -1;
  long threads = -1;
  int r = shmem__proc_stat_parse(text, &start, &ended, &threads);
  assert(r == 0 || r == -EIO);
  if (r == 0) assert(ended == 0 || ended == 1);
  /* Without the thread count asked for, too. */
  r = shmem__proc_stat_parse(text, &start, &ended, NULL);
  assert(r == 0 || r == -EIO);
}

static void meminfo(const char *text, size_t n) {
  static const char *const keys[] = {"Hugepagesize", "HugePages_Free", "MemTotal", ""};
  for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
    FILE *f = fmemopen((void *)text, n, "r");
    if (f == NULL) return;
    (void)shmem__meminfo_scan(f, keys[k]);
    fclose(f);
  }
}

static void link_kind(char *text) {
  char name[SHMEM_NAME_MAX + 2];
  shmem_kind_t kind = shmem__fd_link_kind(text, name, sizeof(name));
  assert(kind == SHMEM_KIND_MEMFD || kind == SHMEM_KIND_POSIX || kind == SHMEM_KIND_FILE);
  size_t len = strnlen(name, sizeof(name));
  assert(len < sizeof(name));
  /* A POSIX object's name is "/x", or none (a name too long to be one). */
  if (kind == SHMEM_KIND_POSIX && len > 0) assert(name[0] == '/' && strchr(name + 1, '/') == NULL);
  if (kind == SHMEM_KIND_FILE) assert(len == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t n = size - 1;
  char *text = malloc(n + 1);
  if (text == NULL) return 0;
  memcpy(text, data + 1, n);
  text[n] = '\0';
  switch (data[0] % 4) {
    case 0: proc_stat(text); break;
    case 1: meminfo(text, n); break;
    case 3: {
      int r = shmem__loadavg_crowded(text, 2);
      assert(r == -1 || r == 0 || r == 1);
      break;
    }
    default: link_kind(text); break;
  }
  free(text);
  return 0;
}
