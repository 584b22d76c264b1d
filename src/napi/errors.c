/* The table of src/napi/errors.h made into data, and the functions that throw its rows. */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>

#include "util.h"

typedef struct row_s {
  const char *name;
  const char *cls;
  const char *code;
  const char *format;
} row_t;

static const row_t rows[SHMEM_NAPI_E_COUNT] = {
#define SHMEM_NAPI_ERROR_ROW(row, cls, code, format) {#row, #cls, code, format},
    SHMEM_NAPI_ERRORS(SHMEM_NAPI_ERROR_ROW)
#undef SHMEM_NAPI_ERROR_ROW
};

void shmem_napi_throw_error(napi_env env, shmem_napi_error_t e, ...) {
  const row_t *row = &rows[e];
  char msg[1024];
  va_list ap;
  va_start(ap, e);
  vsnprintf(msg, sizeof(msg), row->format, ap);
  va_end(ap);
  shmem_napi_throw(env, row->cls, row->code, "%s", msg);
}

static const char *type_name(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return "unknown";
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

void shmem_napi_throw_arg_type(napi_env env, const char *name, const char *expected,
                               napi_value value) {
  shmem_napi_throw_error(env, SHMEM_NAPI_E_ARG_TYPE, name, expected, type_name(env, value));
}

void shmem_napi_throw_errno(napi_env env, int r, const char *syscall) {
  shmem_err_t err = {r, syscall};
  shmem_napi_throw_core(env, &err, NULL);
}

/* errorRows() -> [[row, class, code], ...] in the table's order. */
static napi_value error_rows(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  NAPI_CALL(env, napi_create_array_with_length(env, SHMEM_NAPI_E_COUNT, &out));
  for (uint32_t i = 0; i < SHMEM_NAPI_E_COUNT; i++) {
    const char *fields[3] = {rows[i].name, rows[i].cls, rows[i].code};
    napi_value row, v;
    NAPI_CALL(env, napi_create_array_with_length(env, 3, &row));
    for (uint32_t j = 0; j < 3; j++) {
      NAPI_CALL(env, napi_create_string_utf8(env, fields[j], NAPI_AUTO_LENGTH, &v));
      NAPI_CALL(env, napi_set_element(env, row, j, v));
    }
    NAPI_CALL(env, napi_set_element(env, out, i, row));
  }
  return out;
}

/* throwErrorRow(i): throws row i as a throw site would, its format unformatted as the
 * message (no arguments to fill it with). */
static napi_value throw_error_row(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  uint64_t i;
  if (!shmem_arg_u64(env, argv[0], "row", SHMEM_NAPI_E_COUNT - 1, &i)) return NULL;
  shmem_napi_throw(env, rows[i].cls, rows[i].code, "%s", rows[i].format);
  return NULL;
}

napi_status shmem_napi_errors_init(napi_env env, napi_value exports) {
  static const shmem_napi_export_t fns[] = {
      {"errorRows", error_rows},
      {"throwErrorRow", throw_error_row},
  };
  return SHMEM_NAPI_EXPORT(env, exports, fns);
}
