#include "util.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool exception_pending(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  return pending;
}

void shmem_napi_throw(napi_env env, const char *type, const char *code, const char *fmt, ...) {
  if (exception_pending(env)) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (strcmp(type, "TypeError") == 0) napi_throw_type_error(env, code, msg);
  else if (strcmp(type, "RangeError") == 0) napi_throw_range_error(env, code, msg);
  else napi_throw_error(env, code, msg);
}

void shmem_napi_throw_status(napi_env env, napi_status status) {
  if (exception_pending(env)) return;
  if (status == napi_no_external_buffers_allowed) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_NO_EXTERNAL_BUFFERS);
    return;
  }
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  const char *why = info != NULL && info->error_message != NULL ? info->error_message
                                                                  : "unknown failure";
  shmem_napi_throw_error(env, SHMEM_NAPI_E_NAPI_FAILED, why);
}

void shmem_napi_throw_arraybuffer_status(napi_env env, napi_status status, uint64_t length) {
  if (status == napi_invalid_arg) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_ARRAYBUFFER_TOO_LARGE, (unsigned long long)length);
  } else {
    shmem_napi_throw_status(env, status);
  }
}

typedef napi_status (*create_external_sab_fn)(napi_env, void *, size_t,
                                              shmem_napi_noenv_finalize, void *, napi_value *);
static create_external_sab_fn create_external_sab;
static pthread_once_t create_external_sab_once = PTHREAD_ONCE_INIT;

static void find_create_external_sab(void) {
  /* The runtime's own symbol: node and bun export their Node-API from the executable. A
   * declaration of ours, not the header's, since Node 20's headers have none. */
  const char *name = "node_api_create_external_sharedarraybuffer";
  create_external_sab = (create_external_sab_fn)dlsym(RTLD_DEFAULT, name);
}

bool shmem_napi_has_external_sab(void) {
  pthread_once(&create_external_sab_once, find_create_external_sab);
  return create_external_sab != NULL;
}

napi_status shmem_napi_create_external_sab(napi_env env, void *data, size_t length,
                                           shmem_napi_noenv_finalize finalize, void *hint,
                                           napi_value *result) {
  if (!shmem_napi_has_external_sab()) return napi_generic_failure;
  return create_external_sab(env, data, length, finalize, hint, result);
}

static void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok) {
    napi_set_named_property(env, obj, key, v);
  }
}

void shmem_napi_throw_core(napi_env env, const shmem_err_t *err, const char *path) {
  if (exception_pending(env)) return;
  int code = err->code;
  const char *syscall = err->syscall != NULL ? err->syscall : "";
  char where[600] = "";
  if (path != NULL && path[0] != '\0') snprintf(where, sizeof(where), " '%.500s'", path);

  switch (code) {
    case SHMEM_ETOOSMALL:
      shmem_napi_throw_error(env, SHMEM_NAPI_E_TOO_SMALL, where);
      return;
    case SHMEM_ENOHUGEPAGES:
      shmem_napi_throw_error(env, SHMEM_NAPI_E_NO_HUGEPAGES, syscall, where);
      return;
    case SHMEM_EBADSTATE: {
      char subject[640];
      snprintf(subject, sizeof(subject), "Shared state%s", where);
      shmem_napi_throw_error(env, SHMEM_NAPI_E_BAD_STATE, subject, SHMEM_NAPI_GARBAGE);
      return;
    }
    case SHMEM_EKIND:
      shmem_napi_throw_error(env, SHMEM_NAPI_E_KIND_UNSUPPORTED, where);
      return;
    default:
      break;
  }
  if (err->syscall == NULL) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_OPTIONS_KIND, where);
    return;
  }

  /* Named and worded as Node names and words them (libuv's texts, kept in the core), without
   * calling libuv, which not every runtime that loads Node-API addons has (Bun has no
   * uv_err_name); an errno libuv has no text for (EIDRM) gets strerror's, in lower case. */
  const char *name = shmem_err_name(code);
  const char *text = shmem_err_node_text(code);
  char desc[256];
  snprintf(desc, sizeof(desc), "%s", text != NULL ? text : shmem_strerror(code));
  if (text == NULL && desc[0] >= 'A' && desc[0] <= 'Z') desc[0] = (char)(desc[0] - 'A' + 'a');
  char msg[1024];
  snprintf(msg, sizeof(msg), "%s: %s, %s%s", name, desc, syscall, where);

  napi_value code_v, msg_v, error, errno_v;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code_v) != napi_ok) return;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &msg_v) != napi_ok) return;
  if (napi_create_error(env, code_v, msg_v, &error) != napi_ok) return;
  if (napi_create_int32(env, code, &errno_v) == napi_ok) {
    napi_set_named_property(env, error, "errno", errno_v);
  }
  set_string(env, error, "syscall", syscall);
  if (path != NULL && path[0] != '\0') set_string(env, error, "path", path);
  napi_throw(env, error);
}

/* ERR_OUT_OF_RANGE for name, its range worded by range_fmt; a value that is an integer shows
 * without a fraction. */
static void throw_range(napi_env env, const char *name, double value, const char *range_fmt,
                        ...) __attribute__((format(printf, 4, 5)));
static void throw_range(napi_env env, const char *name, double value, const char *range_fmt,
                        ...) {
  char range[128], shown[64];
  va_list ap;
  va_start(ap, range_fmt);
  vsnprintf(range, sizeof(range), range_fmt, ap);
  va_end(ap);
  snprintf(shown, sizeof(shown), isfinite(value) && value == trunc(value) ? "%.0f" : "%g", value);
  shmem_napi_throw_error(env, SHMEM_NAPI_E_ARG_RANGE, name, range, shown);
}

/* The type error for v when it is not of type `type`: true when it is. */
static bool arg_is(napi_env env, napi_value v, const char *name, napi_valuetype type,
                   const char *expected) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == type) return true;
  shmem_napi_throw_arg_type(env, name, expected, v);
  return false;
}

static bool arg_number(napi_env env, napi_value v, const char *name, double *out) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    shmem_napi_throw_arg_type(env, name, "of type number", v);
    return false;
  }
  if (!isfinite(*out) || *out != trunc(*out)) {
    throw_range(env, name, *out, "an integer");
    return false;
  }
  return true;
}

bool shmem_arg_u64(napi_env env, napi_value v, const char *name, uint64_t max, uint64_t *out) {
  double d;
  if (!arg_number(env, v, name, &d)) return false;
  /* 2^53: past it a Number no longer holds every integer. */
  const double safe = 9007199254740991.0;
  double limit = (double)max < safe ? (double)max : safe;
  if (d < 0 || d > limit) {
    throw_range(env, name, d, ">= 0 && <= %.0f", limit);
    return false;
  }
  *out = (uint64_t)d;
  return true;
}

bool shmem_arg_i64(napi_env env, napi_value v, const char *name, int64_t min, int64_t max,
                   int64_t *out) {
  double d;
  if (!arg_number(env, v, name, &d)) return false;
  if (d < (double)min || d > (double)max) {
    throw_range(env, name, d, ">= %lld && <= %lld", (long long)min, (long long)max);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

bool shmem_arg_u32(napi_env env, napi_value v, const char *name, uint32_t max, uint32_t *out) {
  if (napi_get_value_uint32(env, v, out) != napi_ok) {
    shmem_napi_throw_arg_type(env, name, "of type number", v);
    return false;
  }
  if (*out > max) {
    throw_range(env, name, *out, ">= 0 && <= %u", max);
    return false;
  }
  return true;
}

bool shmem_arg_bool(napi_env env, napi_value v, const char *name, bool *out) {
  if (napi_get_value_bool(env, v, out) == napi_ok) return true;
  shmem_napi_throw_arg_type(env, name, "of type boolean", v);
  return false;
}

bool shmem_arg_string(napi_env env, napi_value v, const char *name, char *buf, size_t size) {
  if (!arg_is(env, v, name, napi_string, "of type string")) return false;
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return false;
  if (len >= size) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_ARG_TOO_LONG, name, len, size - 1);
    return false;
  }
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok) return false;
  if (strlen(buf) != len) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_ARG_NUL_BYTES, name);
    return false;
  }
  return true;
}

bool shmem_arg_function(napi_env env, napi_value v, const char *name) {
  return arg_is(env, v, name, napi_function, "of type function");
}

bool shmem_arg_float64_array(napi_env env, napi_value v, const char *name, size_t min_length,
                             double **data, size_t *length) {
  bool is = false;
  napi_typedarray_type type = napi_int8_array;
  if (napi_is_typedarray(env, v, &is) != napi_ok) return false;
  if (is && napi_get_typedarray_info(env, v, &type, length, (void **)data, NULL, NULL) != napi_ok) {
    return false;
  }
  if (!is || type != napi_float64_array || *length < min_length) {
    char expected[64];
    snprintf(expected, sizeof(expected), "a Float64Array of %zu or more elements", min_length);
    shmem_napi_throw_arg_type(env, name, expected, v);
    return false;
  }
  return true;
}

bool shmem_arg_timeout(napi_env env, napi_value v, const char *name, int64_t *deadline) {
  double ms;
  if (napi_get_value_double(env, v, &ms) != napi_ok) {
    shmem_napi_throw_arg_type(env, name, "of type number", v);
    return false;
  }
  if (isnan(ms)) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_ARG_TIMEOUT, name);
    return false;
  }
  /* 9e12 ms is ~285 years: no int64 deadline in nanoseconds reaches past it. */
  *deadline = ms < 0 || ms >= 9e12 ? -1 : shmem_now_ns() + (int64_t)(ms * 1e6);
  return true;
}

bool shmem_is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  return t == napi_undefined || t == napi_null;
}

napi_status shmem_napi_export(napi_env env, napi_value exports, const shmem_napi_export_t *fns,
                              size_t n) {
  for (size_t i = 0; i < n; i++) {
    napi_value fn;
    NAPI_TRY(napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn));
    NAPI_TRY(napi_set_named_property(env, exports, fns[i].name, fn));
  }
  return napi_ok;
}
