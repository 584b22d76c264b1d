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
  napi_typedarray_type type;
  size_t length;
  void *data;
  bool is_typedarray = false;
  NAPI_CALL(env, napi_is_typedarray(env, argv[0], &is_typedarray));
  if (is_typedarray) {
    NAPI_CALL(env, napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL));
  }
  if (!is_typedarray || type != napi_float64_array || length < 8) {
    shmem_napi_throw(env, "TypeError", "ERR_INVALID_ARG_TYPE",
                     "The \"scratch\" argument must be a Float64Array of 8 or more elements");
    return NULL;
  }
  instance_t *inst = NULL;
  NAPI_CALL(env, napi_get_instance_data(env, (void **)&inst));
  if (inst->scratch_ref != NULL) napi_delete_reference(env, inst->scratch_ref);
  NAPI_CALL(env, napi_create_reference(env, argv[0], 1, &inst->scratch_ref));
  inst->scratch = (double *)data;
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

/* posixCreate(name, size, flags, mode) */
static napi_value posix_create(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  char name[PATH_BUF];
  shmem_options_t opts;
  shmem_options_init(&opts);
  uint64_t size;
  if (!shmem_arg_string(env, argv[0], "name", name, sizeof(name))) return NULL;
  if (!arg_size(env, argv[1], &size)) return NULL;
  if (!arg_flags(env, argv[2], &opts.flags)) return NULL;
  if (!arg_mode(env, argv[3], &opts.mode)) return NULL;
  segment_handle_t *h = shmem_napi_handle_new();
  if (h == NULL) return NULL;
  shmem_err_t err = {0, NULL};
  shmem_segment_t *seg = shmem_napi_handle_segment(h);
  int r = shmem_posix_create(seg, name, size, &opts, &err);
  return shmem_napi_handle_finish(env, h, r, &err, seg->name[0] ? seg->name : name);
}

/* posixOpen(name, size, flags): size 0 maps the whole object. */
static napi_value posix_open(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  char name[PATH_BUF];
  shmem_options_t opts;
  shmem_options_init(&opts);
  if (!shmem_arg_string(env, argv[0], "name", name, sizeof(name))) return NULL;
  if (!arg_size(env, argv[1], &opts.size)) return NULL;
  if (!arg_flags(env, argv[2], &opts.flags)) return NULL;
  segment_handle_t *h = shmem_napi_handle_new();
  if (h == NULL) return NULL;
  shmem_err_t err = {0, NULL};
  shmem_segment_t *seg = shmem_napi_handle_segment(h);
  int r = shmem_posix_open(seg, name, &opts, &err);
  return shmem_napi_handle_finish(env, h, r, &err, seg->name[0] ? seg->name : name);
}

/* posixOpenOrCreate(name, size, flags, mode) */
static napi_value posix_open_or_create(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  char name[PATH_BUF];
  shmem_options_t opts;
  shmem_options_init(&opts);
  uint64_t size;
  if (!shmem_arg_string(env, argv[0], "name", name, sizeof(name))) return NULL;
  if (!arg_size(env, argv[1], &size)) return NULL;
  if (!arg_flags(env, argv[2], &opts.flags)) return NULL;
  if (!arg_mode(env, argv[3], &opts.mode)) return NULL;
  segment_handle_t *h = shmem_napi_handle_new();
  if (h == NULL) return NULL;
  shmem_err_t err = {0, NULL};
  shmem_segment_t *seg = shmem_napi_handle_segment(h);
  int r = shmem_posix_open_or_create(seg, name, size, &opts, &err);
  return shmem_napi_handle_finish(env, h, r, &err, seg->name[0] ? seg->name : name);
}

/* posixUnlink(name): true, or false when there was nothing to unlink. */
static napi_value posix_unlink(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  char name[PATH_BUF];
  if (!shmem_arg_string(env, argv[0], "name", name, sizeof(name))) return NULL;
  shmem_err_t err = {0, NULL};
  int r = shmem_posix_unlink(name, &err);
  if (r < 0 && r != -ENOENT) {
    char normal[SHMEM_NAME_MAX + 2];
    shmem_napi_throw_core(env, &err,
                          shmem_name_normalize(name, normal, sizeof(normal)) == 0 ? normal : name);
    return NULL;
  }
  napi_value result;
  NAPI_CALL(env, napi_get_boolean(env, r == 0, &result));
  return result;
}

/* memfdCreate(size, flags, name | null) */
static napi_value memfd_create_(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  char name[PATH_BUF];
  shmem_options_t opts;
  shmem_options_init(&opts);
  uint64_t size;
  if (!arg_size(env, argv[0], &size)) return NULL;
  if (!arg_flags(env, argv[1], &opts.flags)) return NULL;
  if (!shmem_is_nullish(env, argv[2])) {
    if (!shmem_arg_string(env, argv[2], "name", name, 250)) return NULL;
    opts.name = name;
  }
  segment_handle_t *h = shmem_napi_handle_new();
  if (h == NULL) return NULL;
  shmem_err_t err = {0, NULL};
  shmem_segment_t *seg = shmem_napi_handle_segment(h);
  int r = shmem_memfd_create(seg, size, &opts, &err);
  char path[300];
  snprintf(path, sizeof(path), "memfd:%s", opts.name ? opts.name : "shmem");
  return shmem_napi_handle_finish(env, h, r, &err, path);
}

/* fdMap(fd, size, offset, flags) */
static napi_value fd_map(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  shmem_options_t opts;
  shmem_options_init(&opts);
  int64_t fd;
  if (!shmem_arg_i64(env, argv[0], "fd", 0, INT_MAX, &fd)) return NULL;
  if (!arg_size(env, argv[1], &opts.size)) return NULL;
  if (!shmem_arg_u64(env, argv[2], "offset", (uint64_t)INT64_MAX, &opts.offset)) return NULL;
  if (!arg_flags(env, argv[3], &opts.flags)) return NULL;
  segment_handle_t *h = shmem_napi_handle_new();
  if (h == NULL) return NULL;
  shmem_err_t err = {0, NULL};
  shmem_segment_t *seg = shmem_napi_handle_segment(h);
  int r = shmem_fd_map(seg, (int)fd, &opts, &err);
  char path[300];
  if (r == 0 && seg->kind == SHMEM_KIND_POSIX) snprintf(path, sizeof(path), "%s", seg->name);
  else if (r == 0 && seg->kind == SHMEM_KIND_MEMFD) snprintf(path, sizeof(path), "memfd:%s", seg->name);
  else snprintf(path, sizeof(path), "fd %d", (int)fd);
  return shmem_napi_handle_finish(env, h, r, &err, path);
}

/* fileMap(path, size, offset, flags, mode) */
static napi_value file_map(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  char path[PATH_BUF];
  shmem_options_t opts;
  shmem_options_init(&opts);
  if (!shmem_arg_string(env, argv[0], "path", path, sizeof(path))) return NULL;
  if (!arg_size(env, argv[1], &opts.size)) return NULL;
  if (!shmem_arg_u64(env, argv[2], "offset", (uint64_t)INT64_MAX, &opts.offset)) return NULL;
  if (!arg_flags(env, argv[3], &opts.flags)) return NULL;
  if (!arg_mode(env, argv[4], &opts.mode)) return NULL;
  segment_handle_t *h = shmem_napi_handle_new();
  if (h == NULL) return NULL;
  shmem_err_t err = {0, NULL};
  int r = shmem_file_map(shmem_napi_handle_segment(h), path, &opts, &err);
  return shmem_napi_handle_finish(env, h, r, &err, path);
}

static bool arg_key(napi_env env, napi_value v, int32_t *out) {
  int64_t k;
  if (!shmem_arg_i64(env, v, "key", INT32_MIN, INT32_MAX, &k)) return false;
  *out = (int32_t)k;
  return true;
}

/* sysvCreate(key | null, size, flags, mode): null asks for a fresh random key. */
static napi_value sysv_create(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  shmem_options_t opts;
  shmem_options_init(&opts);
  int64_t key = SHMEM_KEY_FRESH;
  int32_t k;
  uint64_t size;
  if (!shmem_is_nullish(env, argv[0])) {
    if (!arg_key(env, argv[0], &k)) return NULL;
    key = k;
  }
  if (!shmem_arg_u64(env, argv[1], "size", (uint64_t)INT64_MAX, &size)) return NULL;
  if (!arg_flags(env, argv[2], &opts.flags)) return NULL;
  if (!arg_mode(env, argv[3], &opts.mode)) return NULL;
  segment_handle_t *h = shmem_napi_handle_new();
  if (h == NULL) return NULL;
  shmem_err_t err = {0, NULL};
  int r = shmem_sysv_create(shmem_napi_handle_segment(h), key, size, &opts, &err);
  char path[32] = "";
  if (key != SHMEM_KEY_FRESH) snprintf(path, sizeof(path), "key %d", (int)key);
  return shmem_napi_handle_finish(env, h, r, &err, path);
}

/* sysvOpen(key, size, flags) and sysvOpenId(id, size, flags) */
static napi_value sysv_open_common(napi_env env, napi_callback_info info, bool by_id) {
  GET_ARGS(3);
  shmem_options_t opts;
  shmem_options_init(&opts);
  int32_t key = 0;
  int64_t id = 0;
  if (by_id ? !shmem_arg_i64(env, argv[0], "id", 0, INT_MAX, &id) : !arg_key(env, argv[0], &key)) {
    return NULL;
  }
  if (!arg_size(env, argv[1], &opts.size)) return NULL;
  if (!arg_flags(env, argv[2], &opts.flags)) return NULL;
  segment_handle_t *h = shmem_napi_handle_new();
  if (h == NULL) return NULL;
  shmem_err_t err = {0, NULL};
  shmem_segment_t *seg = shmem_napi_handle_segment(h);
  int r = by_id ? shmem_sysv_open_id(seg, (int)id, &opts, &err)
                : shmem_sysv_open(seg, key, &opts, &err);
  char path[32];
  snprintf(path, sizeof(path), by_id ? "id %d" : "key %d", by_id ? (int)id : (int)key);
  return shmem_napi_handle_finish(env, h, r, &err, path);
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
  int32_t key = 0;
  int64_t id = 0;
  if (by_id ? !shmem_arg_i64(env, argv[0], "id", 0, INT_MAX, &id) : !arg_key(env, argv[0], &key)) {
    return NULL;
  }
  shmem_err_t err = {0, NULL};
  int r = by_id ? shmem_sysv_remove_id((int)id, &err) : shmem_sysv_remove(key, &err);
  if (r < 0 && r != -ENOENT) {
    char path[32];
    snprintf(path, sizeof(path), by_id ? "id %d" : "key %d", by_id ? (int)id : (int)key);
    shmem_napi_throw_core(env, &err, path);
    return NULL;
  }
  napi_value result;
  NAPI_CALL(env, napi_get_boolean(env, r == 0, &result));
  return result;
}

static napi_value sysv_remove(napi_env env, napi_callback_info info) {
  return sysv_remove_common(env, info, false);
}

static napi_value sysv_remove_id(napi_env env, napi_callback_info info) {
  return sysv_remove_common(env, info, true);
}

/* Reads (handle, offset, length) for the memory controls. */
#define GET_RANGE(n)                                                                    \
  GET_ARGS(n);                                                                          \
  const char *path = NULL;                                                              \
  shmem_segment_t *seg = shmem_napi_segment(env, argv[0], &path);                       \
  if (seg == NULL) return NULL;                                                         \
  uint64_t offset, length;                                                              \
  if (!shmem_arg_u64(env, argv[(n) - 2], "offset", seg->size, &offset)) return NULL;    \
  if (!shmem_arg_u64(env, argv[(n) - 1], "length", seg->size - offset, &length)) return NULL;

/* advise(handle, advice, offset, length) */
static napi_value advise(napi_env env, napi_callback_info info) {
  GET_RANGE(4);
  int64_t advice;
  if (!shmem_arg_i64(env, argv[1], "advice", 0, INT_MAX, &advice)) return NULL;
  if (!shmem_advice_allowed((int)advice)) {
    shmem_napi_throw(env, "TypeError", "ERR_INVALID_ARG_VALUE",
                     "The argument 'advice' is not advice this package passes to madvise(2). "
                     "Received %lld",
                     (long long)advice);
    return NULL;
  }
  shmem_err_t err = {0, NULL};
  if (shmem_advise(seg, (int)advice, offset, length, &err) < 0) {
    shmem_napi_throw_core(env, &err, path);
  }
  return NULL;
}

/* sync(handle, flags, offset, length) */
static napi_value sync_(napi_env env, napi_callback_info info) {
  GET_RANGE(4);
  int64_t flags;
  if (!shmem_arg_i64(env, argv[1], "flags", 0, 3, &flags)) return NULL;
  shmem_err_t err = {0, NULL};
  if (shmem_sync(seg, offset, length, (int)flags, &err) < 0) shmem_napi_throw_core(env, &err, path);
  return NULL;
}

/* residency(handle, offset, length): writes [residentPages, totalPages] to the scratch. */
static napi_value residency(napi_env env, napi_callback_info info) {
  GET_RANGE(3);
  uint64_t resident = 0, total = 0;
  shmem_err_t err = {0, NULL};
  if (shmem_residency(seg, offset, length, &resident, &total, &err) < 0) {
    shmem_napi_throw_core(env, &err, path);
    return NULL;
  }
  double *s = shmem_napi_scratch(env);
  if (s != NULL) {
    s[0] = (double)resident;
    s[1] = (double)total;
  }
  return NULL;
}

/* lockMemory(handle, onFault) */
static napi_value lock_memory(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  const char *path = NULL;
  shmem_segment_t *seg = shmem_napi_segment(env, argv[0], &path);
  if (seg == NULL) return NULL;
  bool on_fault;
  if (!shmem_arg_bool(env, argv[1], "onFault", &on_fault)) return NULL;
  shmem_err_t err = {0, NULL};
  if (shmem_lock_memory(seg, on_fault, &err) < 0) shmem_napi_throw_core(env, &err, path);
  return NULL;
}

/* unlockMemory(handle) */
static napi_value unlock_memory(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  const char *path = NULL;
  shmem_segment_t *seg = shmem_napi_segment(env, argv[0], &path);
  if (seg == NULL) return NULL;
  shmem_err_t err = {0, NULL};
  if (shmem_unlock_memory(seg, &err) < 0) shmem_napi_throw_core(env, &err, path);
  return NULL;
}

static napi_status set_number(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  NAPI_TRY(napi_create_double(env, value, &v));
  return napi_set_named_property(env, obj, key, v);
}

/* stat(handle) -> a plain object; the JS layer gives it its documented shape. */
static napi_value stat_(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  const char *path = NULL;
  shmem_segment_t *seg = shmem_napi_segment(env, argv[0], &path);
  if (seg == NULL) return NULL;
  shmem_stat_t st;
  shmem_err_t err = {0, NULL};
  if (shmem_segment_stat(seg, &st, &err) < 0) {
    shmem_napi_throw_core(env, &err, path);
    return NULL;
  }
  napi_value o;
  NAPI_CALL(env, napi_create_object(env, &o));
  NAPI_CALL(env, set_number(env, o, "size", (double)st.size));
  NAPI_CALL(env, set_number(env, o, "allocated", (double)st.allocated));
  NAPI_CALL(env, set_number(env, o, "mode", st.mode));
  NAPI_CALL(env, set_number(env, o, "uid", st.uid));
  NAPI_CALL(env, set_number(env, o, "gid", st.gid));
  NAPI_CALL(env, set_number(env, o, "ino", (double)st.ino));
  NAPI_CALL(env, set_number(env, o, "dev", (double)st.dev));
  NAPI_CALL(env, set_number(env, o, "nlink", (double)st.nlink));
  NAPI_CALL(env, set_number(env, o, "atimeMs", st.atime_ms));
  NAPI_CALL(env, set_number(env, o, "mtimeMs", st.mtime_ms));
  NAPI_CALL(env, set_number(env, o, "ctimeMs", st.ctime_ms));
  NAPI_CALL(env, set_number(env, o, "cuid", st.cuid));
  NAPI_CALL(env, set_number(env, o, "cgid", st.cgid));
  NAPI_CALL(env, set_number(env, o, "nattch", (double)st.nattch));
  NAPI_CALL(env, set_number(env, o, "cpid", st.cpid));
  NAPI_CALL(env, set_number(env, o, "lpid", st.lpid));
  return o;
}

typedef struct raw_mapping_s {
  void *addr;
  uint64_t size;
  int flags;
} raw_mapping_t;

static void raw_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  raw_mapping_t *m = (raw_mapping_t *)hint;
  shmem_unmap(m->addr, m->size, m->flags);
  free(m);
}

/* map(size, prot, flags, fd, offset, advice): raw mmap(2) as an ArrayBuffer that unmaps when
 * it is collected. advice -1 gives none. */
/* errorText(code): [name, text or null] as the binding words an error with that code; for the
 * test that keeps the core's table of Node's texts equal to the running Node's own. */
static napi_value error_text(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t code;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &code));
  const char *text = shmem_err_node_text(code);
  napi_value result, name_v, text_v;
  NAPI_CALL(env, napi_create_array_with_length(env, 2, &result));
  NAPI_CALL(env, napi_create_string_utf8(env, shmem_err_name(code), NAPI_AUTO_LENGTH, &name_v));
  if (text != NULL) {
    NAPI_CALL(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &text_v));
  } else {
    NAPI_CALL(env, napi_get_null(env, &text_v));
  }
  NAPI_CALL(env, napi_set_element(env, result, 0, name_v));
  NAPI_CALL(env, napi_set_element(env, result, 1, text_v));
  return result;
}

static napi_value map(napi_env env, napi_callback_info info) {
  GET_ARGS(6);
  uint64_t size, offset;
  int64_t prot, flags, fd, advice;
  if (!shmem_arg_u64(env, argv[0], "size", (uint64_t)INT64_MAX, &size)) return NULL;
  if (!shmem_arg_i64(env, argv[1], "protection", 0, INT_MAX, &prot)) return NULL;
  if (!shmem_arg_i64(env, argv[2], "flags", 0, INT_MAX, &flags)) return NULL;
  if (!shmem_arg_i64(env, argv[3], "fd", -1, INT_MAX, &fd)) return NULL;
  if (!shmem_arg_u64(env, argv[4], "offset", (uint64_t)INT64_MAX, &offset)) return NULL;
  if (!shmem_arg_i64(env, argv[5], "advice", -1, INT_MAX, &advice)) return NULL;
  if (advice >= 0 && !shmem_advice_allowed((int)advice)) {
    shmem_napi_throw(env, "TypeError", "ERR_INVALID_ARG_VALUE",
                     "The argument 'advice' is not advice this package passes to madvise(2). "
                     "Received %lld",
                     (long long)advice);
    return NULL;
  }
  raw_mapping_t *m = calloc(1, sizeof(*m));
  if (m == NULL) return NULL;
  shmem_err_t err = {0, NULL};
  int r = shmem_map(&m->addr, size, (int)prot, (int)flags, (int)fd, offset, (int)advice, &err);
  char path[32];
  snprintf(path, sizeof(path), "fd %d", (int)fd);
  if (r < 0) {
    free(m);
    shmem_napi_throw_core(env, &err, fd >= 0 ? path : NULL);
    return NULL;
  }
  m->size = size;
  m->flags = (int)flags;
  napi_value ab;
  napi_status st = napi_create_external_arraybuffer(env, m->addr, (size_t)size, raw_finalize, m,
                                                    &ab);
  if (st != napi_ok) {
    shmem_unmap(m->addr, size, m->flags);
    free(m);
    shmem_napi_throw_arraybuffer_status(env, st, size);
    return NULL;
  }
  return ab;
}

typedef struct export_s {
  const char *name;
  napi_callback fn;
} export_t;

NAPI_MODULE_INIT() {
  static const export_t fns[] = {
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
      {"close", shmem_napi_close},
      {"unlink", shmem_napi_unlink},
      {"advise", advise},
      {"sync", sync_},
      {"residency", residency},
      {"lockMemory", lock_memory},
      {"unlockMemory", unlock_memory},
      {"stat", stat_},
      {"map", map},
      {"errorText", error_text},
  };
  instance_t *inst = calloc(1, sizeof(*inst));
  if (inst == NULL) return NULL;
  if (napi_set_instance_data(env, inst, instance_finalize, NULL) != napi_ok) {
    free(inst);
    return NULL;
  }
  for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
    napi_value fn;
    NAPI_CALL(env, napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn));
    NAPI_CALL(env, napi_set_named_property(env, exports, fns[i].name, fn));
  }
  NAPI_CALL(env, shmem_napi_constants(env, exports));
  NAPI_CALL(env, shmem_napi_wait_init(env, exports, inst));
  NAPI_CALL(env, shmem_napi_channel_init(env, exports));
  NAPI_CALL(env, shmem_napi_proc_init(env, exports));
  return exports;
}
