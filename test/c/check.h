/* A tiny assertion helper for the C core's tests. A failed check prints where it was and the
 * values it saw, then the test goes on, so one run reports every failure and still reaches its
 * cleanup. main() ends with `return CHECK_REPORT();`. */
#ifndef SHMEM_TEST_CHECK_H
#define SHMEM_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "shmem.h"

static int check_passed_count;
static int check_failed_count;

static inline int check_result_(int ok) {
  if (ok) check_passed_count++;
  else check_failed_count++;
  return ok;
}

static inline int check_true_(int ok, const char *expr, const char *file, int line) {
  if (!ok) fprintf(stderr, "%s:%d: CHECK(%s) failed\n", file, line, expr);
  return check_result_(ok);
}

static inline int check_eq_int_(long long a, long long b, const char *ea, const char *eb,
                                const char *file, int line) {
  int ok = a == b;
  if (!ok) fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", file, line, ea, eb, a, b);
  return check_result_(ok);
}

static inline int check_ne_int_(long long a, long long b, const char *ea, const char *eb,
                                const char *file, int line) {
  int ok = a != b;
  if (!ok) fprintf(stderr, "%s:%d: %s != %s failed: both %lld\n", file, line, ea, eb, a);
  return check_result_(ok);
}

static inline int check_eq_u64_(unsigned long long a, unsigned long long b, const char *ea,
                                const char *eb, const char *file, int line) {
  int ok = a == b;
  if (!ok) fprintf(stderr, "%s:%d: %s == %s failed: %llu != %llu\n", file, line, ea, eb, a, b);
  return check_result_(ok);
}

static inline int check_eq_str_(const char *a, const char *b, const char *ea, const char *eb,
                                const char *file, int line) {
  int ok = a != NULL && b != NULL ? strcmp(a, b) == 0 : a == b;
  if (!ok) {
    fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", file, line, ea, eb,
            a != NULL ? a : "(null)", b != NULL ? b : "(null)");
  }
  return check_result_(ok);
}

/* Compares two return codes of the core and names them on failure ("ENOENT"). */
static inline int check_err_(int a, int b, const char *ea, const char *eb, const char *file,
                             int line) {
  int ok = a == b;
  if (!ok) {
    fprintf(stderr, "%s:%d: %s == %s failed: %d (%s) != %d (%s)\n", file, line, ea, eb, a,
            shmem_err_name(a), b, shmem_err_name(b));
  }
  return check_result_(ok);
}

/* Each macro evaluates its arguments once and yields 1 when the check passed. */
#define CHECK(cond) check_true_((cond) != 0, #cond, __FILE__, __LINE__)
#define CHECK_EQ_INT(a, b) \
  check_eq_int_((long long)(a), (long long)(b), #a, #b, __FILE__, __LINE__)
#define CHECK_NE_INT(a, b) \
  check_ne_int_((long long)(a), (long long)(b), #a, #b, __FILE__, __LINE__)
#define CHECK_EQ_U64(a, b) \
  check_eq_u64_((unsigned long long)(a), (unsigned long long)(b), #a, #b, __FILE__, __LINE__)
#define CHECK_EQ_STR(a, b) check_eq_str_((a), (b), #a, #b, __FILE__, __LINE__)
#define CHECK_ERR(a, b) check_err_((int)(a), (int)(b), #a, #b, __FILE__, __LINE__)

/* Prints "N passed, N failed" and gives main's exit status: 1 when any check failed. */
static inline int check_report_(void) {
  printf("%d passed, %d failed\n", check_passed_count, check_failed_count);
  fflush(stdout);
  return check_failed_count > 0 ? 1 : 0;
}
#define CHECK_REPORT() check_report_()

#endif
