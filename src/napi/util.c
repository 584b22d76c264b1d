#include "util.h"

#include <errno.h>
#include <math.h>
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
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  const char *why = info != NULL && info->error_message != NULL ? info->error_message
                                                                  : "unknown failure";
  if (status == napi_no_external_buffers_allowed) {
    shmem_napi_throw(env, "Error", "ERR_SHMEM_NO_EXTERNAL_BUFFERS",
                     "this runtime refuses external ArrayBuffers (the V8 memory sandbox, as in "
                     "Electron): shared memory cannot be handed to JavaScript here");
    return;
  }
  shmem_napi_throw(env, "Error", "ERR_SHMEM_NAPI", "Node-API call failed: %s", why);
}

void shmem_napi_throw_arraybuffer_status(napi_env env, napi_status status, uint64_t length) {
  if (status == napi_invalid_arg) {
    shmem_napi_throw(env, "RangeError", "ERR_OUT_OF_RANGE",
                     "An ArrayBuffer of %llu bytes is more than this Node.js allows "
                     "(buffer.constants.MAX_LENGTH): use segment.view() with a smaller length",
                     (unsigned long long)length);
  } else {
    shmem_napi_throw_status(env, status);
  }
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
      shmem_napi_throw(env, "RangeError", "ERR_OUT_OF_RANGE",
                       "The object%s is smaller than the mapping asked for: a mapping past its "
                       "end would fault (SIGBUS) when touched",
                       where);
      return;
    case SHMEM_ENOHUGEPAGES:
      shmem_napi_throw(env, "Error", "ERR_SHMEM_NO_HUGEPAGES",
                       "No huge pages are free on this system (reserve some with sysctl "
                       "vm.nr_hugepages=N), %s%s",
                       syscall, where);
      return;
    case SHMEM_EBADSTATE:
      shmem_napi_throw(env, "Error", "ERR_SHMEM_BAD_STATE",
                       "Shared state failed validation%s: it was never initialized, or another "
                       "process overwrote it",
                       where);
      return;
    case SHMEM_EKIND:
      shmem_napi_throw(env, "Error", "ERR_SHMEM_UNSUPPORTED",
                       "The operation does not apply to this kind of segment%s", where);
      return;
    default:
      break;
  }
  if (err->syscall == NULL) {
    shmem_napi_throw(env, "TypeError", "ERR_INVALID_ARG_VALUE",
                     "The options do not apply to this kind of segment%s", where);
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

static const char *type_name(napi_valuetype t) {
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_object: return "object";
    case napi_function: return "function";
    case napi_external: return "external";
    case napi_bigint: return "bigint";
    default: return "unknown";
  }
}

static bool arg_number(napi_env env, napi_value v, const char *name, double *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t != napi_number) {
    shmem_napi_throw(env, "TypeError", "ERR_INVALID_ARG_TYPE",
                     "The \"%s\" argument must be of type number. Received type %s", name,
                     type_name(t));
    return false;
  }
  if (napi_get_value_double(env, v, out) != napi_ok) return false;
  if (!isfinite(*out) || *out != trunc(*out)) {
    shmem_napi_throw(env, "RangeError", "ERR_OUT_OF_RANGE",
                     "The value of \"%s\" is out of range. It must be an integer. Received %g",
                     name, *out);
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
    shmem_napi_throw(env, "RangeError", "ERR_OUT_OF_RANGE",
                     "The value of \"%s\" is out of range. It must be >= 0 && <= %.0f. "
                     "Received %.0f",
                     name, limit, d);
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
    shmem_napi_throw(env, "RangeError", "ERR_OUT_OF_RANGE",
                     "The value of \"%s\" is out of range. It must be >= %lld && <= %lld. "
                     "Received %.0f",
                     name, (long long)min, (long long)max, d);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

bool shmem_arg_bool(napi_env env, napi_value v, const char *name, bool *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t != napi_boolean) {
    shmem_napi_throw(env, "TypeError", "ERR_INVALID_ARG_TYPE",
                     "The \"%s\" argument must be of type boolean. Received type %s", name,
                     type_name(t));
    return false;
  }
  return napi_get_value_bool(env, v, out) == napi_ok;
}

bool shmem_arg_string(napi_env env, napi_value v, const char *name, char *buf, size_t size) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t != napi_string) {
    shmem_napi_throw(env, "TypeError", "ERR_INVALID_ARG_TYPE",
                     "The \"%s\" argument must be of type string. Received type %s", name,
                     type_name(t));
    return false;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return false;
  if (len >= size) {
    shmem_napi_throw(env, "TypeError", "ERR_INVALID_ARG_VALUE",
                     "The argument '%s' is too long (%zu bytes of UTF-8; at most %zu)", name,
                     len, size - 1);
    return false;
  }
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok) return false;
  if (strlen(buf) != len) {
    shmem_napi_throw(env, "TypeError", "ERR_INVALID_ARG_VALUE",
                     "The argument '%s' must be a string without null bytes", name);
    return false;
  }
  return true;
}

bool shmem_is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  return t == napi_undefined || t == napi_null;
}
