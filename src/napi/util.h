/* Helpers for the Node-API layer: one status macro, Node-style errors, argument checks.
 * The JS layer validates every argument first; these checks are the second line, so that no
 * unchecked value reaches a system call even when the binding is called directly. */
#ifndef SHMEM_NAPI_UTIL_H
#define SHMEM_NAPI_UTIL_H

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../include/shmem.h"
#include "errors.h"

/* Calls a napi_* function; on failure throws (unless an exception is already pending) and
 * returns NULL from the calling binding function. Modelled on node's NODE_API_CALL. */
#define NAPI_CALL(env, call)                 \
  do {                                       \
    napi_status status_ = (call);            \
    if (status_ != napi_ok) {                \
      shmem_napi_throw_status(env, status_); \
      return NULL;                           \
    }                                        \
  } while (0)

/* The same for functions that return a napi_status themselves. */
#define NAPI_TRY(call)                   \
  do {                                   \
    napi_status status_ = (call);        \
    if (status_ != napi_ok) return status_; \
  } while (0)

/* Reads n arguments into argv[]; fewer is a TypeError ERR_MISSING_ARGS. */
#define GET_ARGS(n)                                                        \
  size_t argc = (n);                                                       \
  napi_value argv[(n) > 0 ? (n) : 1];                                      \
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));    \
  if (argc < (n)) {                                                        \
    shmem_napi_throw_error(env, SHMEM_NAPI_E_MISSING_ARGS, (n), argc);     \
    return NULL;                                                           \
  }

void shmem_napi_throw_status(napi_env env, napi_status status);

/* Throws what a failed napi_create_external_arraybuffer of length bytes deserves. */
void shmem_napi_throw_arraybuffer_status(napi_env env, napi_status status, uint64_t length);

/* node_api_create_external_sharedarraybuffer (experimental: Node.js 22.23.3+, 24.16.0+, 26.1.0+,
 * and Bun), looked up in the running process rather than linked: one build serves every line,
 * and the addon still loads where it is missing. The finalizer may run on any thread, after
 * the environment that made the SharedArrayBuffer is gone (a worker may hold the last one). */
typedef void (*shmem_napi_noenv_finalize)(void *data, void *hint);
/* True when the running runtime has the function. */
bool shmem_napi_has_external_sab(void);
/* As the Node-API function; napi_generic_failure where the runtime lacks it. */
napi_status shmem_napi_create_external_sab(napi_env env, void *data, size_t length,
                                           shmem_napi_noenv_finalize finalize, void *hint,
                                           napi_value *result);

/* Throws an Error, TypeError or RangeError with a code, unless an exception is pending: what
 * the rows of errors.h throw through. A throw site names a row (shmem_napi_throw_error). */
void shmem_napi_throw(napi_env env, const char *type, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Throws the JS error for a core failure: an errno error shaped like Node's fs errors
 * (`ENOENT: no such file or directory, shm_open '/x'`, with .errno, .syscall, .path), or the
 * package's own codes for SHMEM_E* values. path may be NULL. */
void shmem_napi_throw_core(napi_env env, const shmem_err_t *err, const char *path);

/* Argument readers: every conversion of an argument goes through one. Each throws the Node
 * error a wrong value deserves (ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE) and returns false. */
bool shmem_arg_u64(napi_env env, napi_value v, const char *name, uint64_t max, uint64_t *out);
bool shmem_arg_i64(napi_env env, napi_value v, const char *name, int64_t min, int64_t max,
                   int64_t *out);
/* One napi call, for the hot paths: a number read as napi_get_value_uint32 reads it (a
 * fraction truncated), at most max. */
bool shmem_arg_u32(napi_env env, napi_value v, const char *name, uint32_t max, uint32_t *out);
bool shmem_arg_bool(napi_env env, napi_value v, const char *name, bool *out);
/* A string without NUL bytes that fits in size - 1 bytes of UTF-8. */
bool shmem_arg_string(napi_env env, napi_value v, const char *name, char *buf, size_t size);
bool shmem_arg_function(napi_env env, napi_value v, const char *name);
/* A Float64Array of at least min_length elements: its elements. */
bool shmem_arg_float64_array(napi_env env, napi_value v, const char *name, size_t min_length,
                             double **data, size_t *length);
/* The one timeout convention of the binding: milliseconds; a negative number (-1) or
 * Infinity (anything past ~292 years) means no limit; NaN and non-numbers throw. Gives the
 * deadline in shmem_now_ns() time, or -1 for none. */
bool shmem_arg_timeout(napi_env env, napi_value v, const char *name, int64_t *deadline);
bool shmem_is_nullish(napi_env env, napi_value v);

/* One entry of a file's export table. */
typedef struct shmem_napi_export_s {
  const char *name;
  napi_callback fn;
} shmem_napi_export_t;

/* Sets exports[name] to a function for each of the n entries. */
napi_status shmem_napi_export(napi_env env, napi_value exports, const shmem_napi_export_t *fns,
                              size_t n);
#define SHMEM_NAPI_EXPORT(env, exports, fns) \
  shmem_napi_export((env), (exports), (fns), sizeof(fns) / sizeof((fns)[0]))

#endif
