/* The Node-API entry points: they convert arguments, call the core and throw its errors. */
#include "binding.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLAGS_ALL 0xff
#define PATH_BUF 4097 /* PATH_MAX and its NUL */

double *shmem_napi_scratch(napi_env env) {
  instance_t *inst = NULL;
  if (napi_get_instance_data(env, (void **)&inst) != napi_ok || inst == NULL) return NULL;
  return inst->scratch_length >= 8 ? inst->scratch : NULL;
}

static void instance_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  instance_t *inst = (instance_t *)data;
  if (inst->scratch_ref != NULL) napi_delete_reference(env, inst->scratch_ref);
  free(inst);
}

/* init(scratch): keeps a Float64Array of at least 8 elements to write results into. */
static napi_value binding_init(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  double *data;
  size_t length;
  if (!shmem_arg_float64_array(env, argv[0], "scratch", 8, &data, &length)) return NULL;
  instance_t *inst = NULL;
  NAPI_CALL(env, napi_get_instance_data(env, (void **)&inst));
  if (inst->scratch_ref != NULL) napi_delete_reference(env, inst->scratch_ref);
  NAPI_CALL(env, napi_create_reference(env, argv[0], 1, &inst->scratch_ref));
  inst->scratch = data;
  inst->scratch_length = length;
  return NULL;
}

static bool arg_flags(napi_env env, napi_value v, unsigned *out) {
  uint64_t f;
  if (!shmem_arg_u64(env, v, "flags", FLAGS_ALL, &f)) return false;
  *out = (unsigned)f;
  return true;
}

static bool arg_mode(napi_env env, napi_value v, unsigned *out) {
  uint64_t m;
  if (!shmem_arg_u64(env, v, "mode", 0777, &m)) return false;
  *out = (unsigned)m;
  return true;
}

static bool arg_size(napi_env env, napi_value v, uint64_t *out) {
  return shmem_arg_u64(env, v, "size", (uint64_t)INT64_MAX, out);
}

static bool arg_offset(napi_env env, napi_value v, uint64_t *out) {
  return shmem_arg_u64(env, v, "offset", (uint64_t)INT64_MAX, out);
}

static bool arg_key(napi_env env, napi_value v, int64_t *out) {
  return shmem_arg_i64(env, v, "key", INT32_MIN, INT32_MAX, out);
}

static bool arg_id(napi_env env, napi_value v, int64_t *out) {
  return shmem_arg_i64(env, v, "id", 0, INT_MAX, out);
}

/* What a segment factory read from its arguments, and what its errors name. */
typedef struct open_args_s {
  char name[PATH_BUF]; /* a name or a path */
  uint64_t size;       /* the size a creating call asks for */
  int64_t number;      /* an fd, a key or an id */
  shmem_options_t opts;
  char where[PATH_BUF + 16];
} open_args_t;

/* Calls the core to fill seg, and says in a->where what its errors name. */
typedef int (*open_fn)(shmem_segment_t *seg, open_args_t *a, shmem_err_t *err);

/* The tail every factory shares: a new handle, the core's call, then the handle for JS or the
 * error thrown. */
static napi_value open_segment(napi_env env, open_args_t *a, open_fn fn) {
  segment_handle_t *h = shmem_napi_handle_new();
  if (h == NULL) {
    shmem_napi_throw_errno(env, -ENOMEM, "calloc");
    return NULL;
  }
  shmem_err_t err = {0, NULL};
  int r = fn(shmem_napi_handle_segment(h), a, &err);
  return shmem_napi_handle_finish(env, h, r, &err, a->where);
}

static void open_args_init(open_args_t *a) {
  memset(a, 0, sizeof(*a));
  shmem_options_init(&a->opts);
}

/* (name, size, flags[, mode]) of the POSIX factories. */
static bool posix_args(napi_env env, const napi_value *argv, bool with_mode, open_args_t *a) {
  open_args_init(a);
  return shmem_arg_string(env, argv[0], "name", a->name, sizeof(a->name)) &&
         arg_size(env, argv[1], &a->size) && arg_flags(env, argv[2], &a->opts.flags) &&
         (!with_mode || arg_mode(env, argv[3], &a->opts.mode));
}

/* A POSIX object is named as the core normalized its name, else as given. */
static int posix_where(shmem_segment_t *seg, open_args_t *a, int r) {
  snprintf(a->where, sizeof(a->where), "%s", seg->name[0] ? seg->name : a->name);
  return r;
}

static int posix_create_fn(shmem_segment_t *seg, open_args_t *a, shmem_err_t *err) {
  return posix_where(seg, a, shmem_posix_create(seg, a->name, a->size, &a->opts, err));
}

static int posix_open_fn(shmem_segment_t *seg, open_args_t *a, shmem_err_t *err) {
  a->opts.size = a->size; /* size 0 maps the whole object */
  return posix_where(seg, a, shmem_posix_open(seg, a->name, &a->opts, err));
}

static int posix_open_or_create_fn(shmem_segment_t *seg, open_args_t *a, shmem_err_t *err) {
  return posix_where(seg, a, shmem_posix_open_or_create(seg, a->name, a->size, &a->opts, err));
}

/* posixCreate(name, size, flags, mode) */
static napi_value posix_create(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  open_args_t a;
  return posix_args(env, argv, true, &a) ? open_segment(env, &a, posix_create_fn) : NULL;
}

/* posixOpen(name, size, flags): size 0 maps the whole object. */
static napi_value posix_open(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  open_args_t a;
  return posix_args(env, argv, false, &a) ? open_segment(env, &a, posix_open_fn) : NULL;
}

/* posixOpenOrCreate(name, size, flags, mode) */
static napi_value posix_open_or_create(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  open_args_t a;
  return posix_args(env, argv, true, &a) ? open_segment(env, &a, posix_open_or_create_fn) : NULL;
}

/* The end of the calls that remove a name: true, or false when there was nothing to remove
 * (-ENOENT); another failure throws, naming where. */
static napi_value removed(napi_env env, int r, const shmem_err_t *err, const char *where) {
  if (r < 0 && r != -ENOENT) {
    shmem_napi_throw_core(env, err, where);
    return NULL;
  }
  napi_value result;
  NAPI_CALL(env, napi_get_boolean(env, r == 0, &result));
  return result;
}

/* posixUnlink(name): true, or false when there was nothing to unlink. */
static napi_value posix_unlink(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  char name[PATH_BUF];
  if (!shmem_arg_string(env, argv[0], "name", name, sizeof(name))) return NULL;
  shmem_err_t err = {0, NULL};
  int r = shmem_posix_unlink(name, &err);
  char normal[SHMEM_NAME_MAX + 2];
  return removed(env, r, &err,
                 shmem_name_normalize(name, normal, sizeof(normal)) == 0 ? normal : name);
}

static int memfd_create_fn(shmem_segment_t *seg, open_args_t *a, shmem_err_t *err) {
  snprintf(a->where, sizeof(a->where), "memfd:%s", a->opts.name ? a->opts.name : "shmem");
  return shmem_memfd_create(seg, a->size, &a->opts, err);
}

/* memfdCreate(size, flags, name | null) */
static napi_value memfd_create_(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  open_args_t a;
  open_args_init(&a);
  if (!arg_size(env, argv[0], &a.size)) return NULL;
  if (!arg_flags(env, argv[1], &a.opts.flags)) return NULL;
  if (!shmem_is_nullish(env, argv[2])) {
    if (!shmem_arg_string(env, argv[2], "name", a.name, 250)) return NULL;
    a.opts.name = a.name;
  }
  return open_segment(env, &a, memfd_create_fn);
}

static int fd_map_fn(shmem_segment_t *seg, open_args_t *a, shmem_err_t *err) {
  int r = shmem_fd_map(seg, (int)a->number, &a->opts, err);
  if (r == 0 && seg->kind == SHMEM_KIND_POSIX) {
    snprintf(a->where, sizeof(a->where), "%s", seg->name);
  } else if (r == 0 && seg->kind == SHMEM_KIND_MEMFD) {
    snprintf(a->where, sizeof(a->where), "memfd:%s", seg->name);
  } else {
    snprintf(a->where, sizeof(a->where), "fd %d", (int)a->number);
  }
  return r;
}

/* fdMap(fd, size, offset, flags) */
static napi_value fd_map(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  open_args_t a;
  open_args_init(&a);
  if (!shmem_arg_i64(env, argv[0], "fd", 0, INT_MAX, &a.number)) return NULL;
  if (!arg_size(env, argv[1], &a.opts.size)) return NULL;
  if (!arg_offset(env, argv[2], &a.opts.offset)) return NULL;
  if (!arg_flags(env, argv[3], &a.opts.flags)) return NULL;
  return open_segment(env, &a, fd_map_fn);
}

static int file_map_fn(shmem_segment_t *seg, open_args_t *a, shmem_err_t *err) {
  snprintf(a->where, sizeof(a->where), "%s", a->name);
  return shmem_file_map(seg, a->name, &a->opts, err);
}

/* fileMap(path, size, offset, flags, mode) */
static napi_value file_map(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  open_args_t a;
  open_args_init(&a);
  if (!shmem_arg_string(env, argv[0], "path", a.name, sizeof(a.name))) return NULL;
  if (!arg_size(env, argv[1], &a.opts.size)) return NULL;
  if (!arg_offset(env, argv[2], &a.opts.offset)) return NULL;
  if (!arg_flags(env, argv[3], &a.opts.flags)) return NULL;
  if (!arg_mode(env, argv[4], &a.opts.mode)) return NULL;
  return open_segment(env, &a, file_map_fn);
}

/* System V segments are named by key (or id): "key 42", "id 7". */
static void sysv_where(char *where, size_t size, bool by_id, int64_t number) {
  snprintf(where, size, by_id ? "id %d" : "key %d", (int)number);
}

static int sysv_create_fn(shmem_segment_t *seg, open_args_t *a, shmem_err_t *err) {
  if (a->number != SHMEM_KEY_FRESH) sysv_where(a->where, sizeof(a->where), false, a->number);
  return shmem_sysv_create(seg, a->number, a->size, &a->opts, err);
}

/* sysvCreate(key | null, size, flags, mode): null asks for a fresh random key. */
static napi_value sysv_create(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  open_args_t a;
  open_args_init(&a);
  a.number = SHMEM_KEY_FRESH;
  if (!shmem_is_nullish(env, argv[0]) && !arg_key(env, argv[0], &a.number)) return NULL;
  if (!arg_size(env, argv[1], &a.size)) return NULL;
  if (!arg_flags(env, argv[2], &a.opts.flags)) return NULL;
  if (!arg_mode(env, argv[3], &a.opts.mode)) return NULL;
  return open_segment(env, &a, sysv_create_fn);
}

static int sysv_open_fn(shmem_segment_t *seg, open_args_t *a, shmem_err_t *err) {
  sysv_where(a->where, sizeof(a->where), false, a->number);
  return shmem_sysv_open(seg, (int32_t)a->number, &a->opts, err);
}

static int sysv_open_id_fn(shmem_segment_t *seg, open_args_t *a, shmem_err_t *err) {
  sysv_where(a->where, sizeof(a->where), true, a->number);
  return shmem_sysv_open_id(seg, (int)a->number, &a->opts, err);
}

/* sysvOpen(key, size, flags) and sysvOpenId(id, size, flags) */
static napi_value sysv_open_common(napi_env env, napi_callback_info info, bool by_id) {
  GET_ARGS(3);
  open_args_t a;
  open_args_init(&a);
  if (!(by_id ? arg_id(env, argv[0], &a.number) : arg_key(env, argv[0], &a.number))) return NULL;
  if (!arg_size(env, argv[1], &a.opts.size)) return NULL;
  if (!arg_flags(env, argv[2], &a.opts.flags)) return NULL;
  return open_segment(env, &a, by_id ? sysv_open_id_fn : sysv_open_fn);
}

static napi_value sysv_open(napi_env env, napi_callback_info info) {
  return sysv_open_common(env, info, false);
}

static napi_value sysv_open_id(napi_env env, napi_callback_info info) {
  return sysv_open_common(env, info, true);
}

/* sysvRemove(key) and sysvRemoveId(id): true, or false when nothing had that key (id). */
static napi_value sysv_remove_common(napi_env env, napi_callback_info info, bool by_id) {
  GET_ARGS(1);
  int64_t number;
  if (!(by_id ? arg_id(env, argv[0], &number) : arg_key(env, argv[0], &number))) return NULL;
  shmem_err_t err = {0, NULL};
  int r = by_id ? shmem_sysv_remove_id((int)number, &err)
                : shmem_sysv_remove((int32_t)number, &err);
  char where[32];
  sysv_where(where, sizeof(where), by_id, number);
  return removed(env, r, &err, where);
}

static napi_value sysv_remove(napi_env env, napi_callback_info info) {
  return sysv_remove_common(env, info, false);
}

static napi_value sysv_remove_id(napi_env env, napi_callback_info info) {
  return sysv_remove_common(env, info, true);
}

/* errorText(code): [name, text or null] as the binding words an error with that code; for the
 * test that keeps the core's table of Node's texts equal to the running Node's own. */
static napi_value error_text(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int64_t code;
  if (!shmem_arg_i64(env, argv[0], "code", INT32_MIN, INT32_MAX, &code)) return NULL;
  const char *text = shmem_err_node_text((int)code);
  napi_value result, name_v, text_v;
  NAPI_CALL(env, napi_create_array_with_length(env, 2, &result));
  NAPI_CALL(env, napi_create_string_utf8(env, shmem_err_name((int)code), NAPI_AUTO_LENGTH, &name_v));
  if (text != NULL) {
    NAPI_CALL(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &text_v));
  } else {
    NAPI_CALL(env, napi_get_null(env, &text_v));
  }
  NAPI_CALL(env, napi_set_element(env, result, 0, name_v));
  NAPI_CALL(env, napi_set_element(env, result, 1, text_v));
  return result;
}

NAPI_MODULE_INIT() {
  static const shmem_napi_export_t fns[] = {
      {"init", binding_init},
      {"posixCreate", posix_create},
      {"posixOpen", posix_open},
      {"posixOpenOrCreate", posix_open_or_create},
      {"posixUnlink", posix_unlink},
      {"memfdCreate", memfd_create_},
      {"fdMap", fd_map},
      {"fileMap", file_map},
      {"sysvCreate", sysv_create},
      {"sysvOpen", sysv_open},
      {"sysvOpenId", sysv_open_id},
      {"sysvRemove", sysv_remove},
      {"sysvRemoveId", sysv_remove_id},
      {"segmentName", shmem_napi_segment_name},
      {"arrayBuffer", shmem_napi_array_buffer},
      {"sharedArrayBuffer", shmem_napi_shared_array_buffer},
      {"close", shmem_napi_close},
      {"unlink", shmem_napi_unlink},
      {"errorText", error_text},
  };
  instance_t *inst = calloc(1, sizeof(*inst));
  if (inst == NULL) return NULL;
  if (napi_set_instance_data(env, inst, instance_finalize, NULL) != napi_ok) {
    free(inst);
    return NULL;
  }
  /* Each file of the binding adds its exports: one line a file. */
  NAPI_CALL(env, SHMEM_NAPI_EXPORT(env, exports, fns));
  NAPI_CALL(env, shmem_napi_constants(env, exports));
  NAPI_CALL(env, shmem_napi_wait_init(env, exports, inst));
  NAPI_CALL(env, shmem_napi_channel_init(env, exports));
  NAPI_CALL(env, shmem_napi_shared_map_init(env, exports));
  NAPI_CALL(env, shmem_napi_memory_init(env, exports));
  NAPI_CALL(env, shmem_napi_proc_init(env, exports));
  NAPI_CALL(env, shmem_napi_errors_init(env, exports));
  return exports;
}
