/* What the fuzz targets share: EXPECT(r, codes...) asserts that a call returned one of the
 * codes it may return, so that any other answer, hostile input or not, is a finding. */
#ifndef SHMEM_FUZZ_EXPECT_H
#define SHMEM_FUZZ_EXPECT_H

#include <assert.h>
#include <stddef.h>

static inline int fuzz_is_one_of(int r, const int *ok, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (r == ok[i]) return 1;
  return 0;
}

#define EXPECT(r, ...)                                                  \
  do {                                                                  \
    static const int ok_[] = {__VA_ARGS__};                             \
    assert(fuzz_is_one_of((r), ok_, sizeof(ok_) / sizeof(ok_[0])));    \
  } while (0)

#endif
