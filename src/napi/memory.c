/* The memory controls of an open segment (madvise, msync, mincore, mlock, fstat) and the raw
 * mmap(2) of shmem.map() with its own unmap and memory controls, for lib/segment.js,
 * lib/map.js and compat/mmap-io. */
#include "binding.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* The prologue of the calls on an open segment: n arguments, the first its handle; seg and
 * the path its errors name (else the call has thrown). */
#define SEGMENT_CALL(n)                                             \
  GET_ARGS(n);                                                      \
  const char *path = NULL;                                          \
  shmem_segment_t *seg = shmem_napi_segment(env, argv[0], &path);   \
  if (seg == NULL) return NULL

/* Their epilogue: undefined, or the core's error r thrown. */
static napi_value segment_done(napi_env env, int r, const shmem_err_t *err, const char *path) {
  if (r < 0) shmem_napi_throw_core(env, err, path);
  return NULL;
}

/* Reads (handle, offset, length) for the memory controls. */
#define GET_RANGE(n)                                                                    \
  SEGMENT_CALL(n);                                                                      \
  uint64_t offset, length;                                                              \
  if (!shmem_arg_u64(env, argv[(n) - 2], "offset", seg->size, &offset)) return NULL;    \
  if (!shmem_arg_u64(env, argv[(n) - 1], "length", seg->size - offset, &length)) return NULL;

/* Advice the core passes to madvise(2), else ERR_INVALID_ARG_VALUE. */
static bool arg_advice_allowed(napi_env env, int64_t advice) {
  if (shmem_advice_allowed((int)advice)) return true;
  shmem_napi_throw_error(env, SHMEM_NAPI_E_ARG_ADVICE, (long long)advice);
  return false;
}

/* advise(handle, advice, offset, length) */
static napi_value advise(napi_env env, napi_callback_info info) {
  GET_RANGE(4);
  int64_t advice;
  if (!shmem_arg_i64(env, argv[1], "advice", 0, INT_MAX, &advice)) return NULL;
  if (!arg_advice_allowed(env, advice)) return NULL;
  shmem_err_t err = {0, NULL};
  return segment_done(env, shmem_advise(seg, (int)advice, offset, length, &err), &err, path);
}

/* sync(handle, flags, offset, length) */
static napi_value sync_(napi_env env, napi_callback_info info) {
  GET_RANGE(4);
  int64_t flags;
  if (!shmem_arg_i64(env, argv[1], "flags", 0, 3, &flags)) return NULL;
  shmem_err_t err = {0, NULL};
  return segment_done(env, shmem_sync(seg, offset, length, (int)flags, &err), &err, path);
}

/* residency(handle, offset, length): writes [residentPages, totalPages] to the scratch. */
static napi_value residency(napi_env env, napi_callback_info info) {
  GET_RANGE(3);
  uint64_t resident = 0, total = 0;
  shmem_err_t err = {0, NULL};
  int r = shmem_residency(seg, offset, length, &resident, &total, &err);
  if (r < 0) return segment_done(env, r, &err, path);
  double *s = shmem_napi_scratch(env);
  if (s != NULL) {
    s[0] = (double)resident;
    s[1] = (double)total;
  }
  return NULL;
}

/* lockMemory(handle, onFault) */
static napi_value lock_memory(napi_env env, napi_callback_info info) {
  SEGMENT_CALL(2);
  bool on_fault;
  if (!shmem_arg_bool(env, argv[1], "onFault", &on_fault)) return NULL;
  shmem_err_t err = {0, NULL};
  return segment_done(env, shmem_lock_memory(seg, on_fault, &err), &err, path);
}

/* unlockMemory(handle) */
static napi_value unlock_memory(napi_env env, napi_callback_info info) {
  SEGMENT_CALL(1);
  shmem_err_t err = {0, NULL};
  return segment_done(env, shmem_unlock_memory(seg, &err), &err, path);
}

static napi_status set_number(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  NAPI_TRY(napi_create_double(env, value, &v));
  return napi_set_named_property(env, obj, key, v);
}

/* stat(handle) -> a plain object; the JS layer gives it its documented shape. */
static napi_value stat_(napi_env env, napi_callback_info info) {
  SEGMENT_CALL(1);
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

/* A raw mapping map() made. Every live one is on a list, so that a buffer handed back
 * (unmap, advise, sync, residency) can be told apart from memory map() never made, from any
 * thread: a SharedArrayBuffer over a mapping can reach a worker. */
typedef struct raw_mapping_s {
  void *addr;
  uint64_t size;
  int prot;
  int flags;
  bool shared;   /* a SharedArrayBuffer: it cannot be detached */
  bool unmapped; /* unmap() gave the addresses back: the finalizer must not */
  struct raw_mapping_s *next;
} raw_mapping_t;

static pthread_mutex_t raw_lock = PTHREAD_MUTEX_INITIALIZER;
static raw_mapping_t *raw_live = NULL;

static void raw_add(raw_mapping_t *m) {
  pthread_mutex_lock(&raw_lock);
  m->next = raw_live;
  raw_live = m;
  pthread_mutex_unlock(&raw_lock);
}

/* Takes m off the list; the caller holds raw_lock. */
static void raw_remove_locked(raw_mapping_t *m) {
  for (raw_mapping_t **at = &raw_live; *at != NULL; at = &(*at)->next) {
    if (*at == m) {
      *at = m->next;
      return;
    }
  }
}

static raw_mapping_t *raw_find_locked(void *addr) {
  for (raw_mapping_t *m = raw_live; m != NULL; m = m->next) {
    if (m->addr == addr) return m;
  }
  return NULL;
}

static void raw_free(raw_mapping_t *m) {
  pthread_mutex_lock(&raw_lock);
  raw_remove_locked(m);
  bool unmapped = m->unmapped;
  pthread_mutex_unlock(&raw_lock);
  if (!unmapped) shmem_unmap(m->addr, m->size, m->flags);
  free(m);
}

static void raw_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  raw_free((raw_mapping_t *)hint);
}

/* A SharedArrayBuffer's finalizer runs when the last thread lets go of it, on that thread. */
static void raw_finalize_shared(void *data, void *hint) {
  (void)data;
  raw_free((raw_mapping_t *)hint);
}

/* map(size, prot, flags, fd, offset, advice): raw mmap(2) as an ArrayBuffer that unmaps when
 * it is collected; mapShared() the same as a SharedArrayBuffer, where this Node can make one.
 * advice -1 gives none. */
static napi_value map_common(napi_env env, napi_callback_info info, bool shared) {
  GET_ARGS(6);
  uint64_t size, offset;
  int64_t prot, flags, fd, advice;
  if (!shmem_arg_u64(env, argv[0], "size", (uint64_t)INT64_MAX, &size)) return NULL;
  if (!shmem_arg_i64(env, argv[1], "protection", 0, INT_MAX, &prot)) return NULL;
  if (!shmem_arg_i64(env, argv[2], "flags", 0, INT_MAX, &flags)) return NULL;
  if (!shmem_arg_i64(env, argv[3], "fd", -1, INT_MAX, &fd)) return NULL;
  if (!shmem_arg_u64(env, argv[4], "offset", (uint64_t)INT64_MAX, &offset)) return NULL;
  if (!shmem_arg_i64(env, argv[5], "advice", -1, INT_MAX, &advice)) return NULL;
  if (advice >= 0 && !arg_advice_allowed(env, advice)) return NULL;
  if (shared && !shmem_napi_has_external_sab()) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_NO_SHARED_ARRAY_BUFFER);
    return NULL;
  }
  raw_mapping_t *m = calloc(1, sizeof(*m));
  if (m == NULL) {
    shmem_napi_throw_errno(env, -ENOMEM, "calloc");
    return NULL;
  }
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
  m->prot = (int)prot;
  m->flags = (int)flags;
  m->shared = shared;
  napi_value ab;
  napi_status st = shared
      ? shmem_napi_create_external_sab(env, m->addr, (size_t)size, raw_finalize_shared, m, &ab)
      : napi_create_external_arraybuffer(env, m->addr, (size_t)size, raw_finalize, m, &ab);
  if (st != napi_ok) {
    shmem_unmap(m->addr, size, m->flags);
    free(m);
    shmem_napi_throw_arraybuffer_status(env, st, size);
    return NULL;
  }
  raw_add(m);
  return ab;
}

static napi_value map(napi_env env, napi_callback_info info) {
  return map_common(env, info, false);
}

static napi_value map_shared(napi_env env, napi_callback_info info) {
  return map_common(env, info, true);
}

/* The live mapping whose first byte buffer's data is, copied into *out; false when there is
 * none (memory map() did not make, a detached buffer, a mapping unmap() let go of). */
static bool raw_lookup(napi_env env, napi_value buffer, raw_mapping_t *out) {
  void *data = NULL;
  size_t length = 0;
  if (napi_get_arraybuffer_info(env, buffer, &data, &length) != napi_ok || data == NULL) {
    return false;
  }
  pthread_mutex_lock(&raw_lock);
  raw_mapping_t *m = raw_find_locked(data);
  if (m != NULL) *out = *m;
  pthread_mutex_unlock(&raw_lock);
  return m != NULL && out->size == length;
}

static napi_value boolean(napi_env env, bool value) {
  napi_value out;
  NAPI_CALL(env, napi_get_boolean(env, value, &out));
  return out;
}

/* unmap(buffer) -> true when this call let go of the mapping. An ArrayBuffer is detached,
 * and every view of it with it, then unmapped; a SharedArrayBuffer cannot be detached, so
 * its file pages give way to zero pages that go when it is collected. */
static napi_value unmap(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  raw_mapping_t copy;
  if (!raw_lookup(env, argv[0], &copy)) return boolean(env, false);
  if (!copy.shared) NAPI_CALL(env, napi_detach_arraybuffer(env, argv[0]));
  pthread_mutex_lock(&raw_lock);
  raw_mapping_t *m = raw_find_locked(copy.addr);
  if (m != NULL) {
    raw_remove_locked(m);
    m->unmapped = !m->shared;
  }
  pthread_mutex_unlock(&raw_lock);
  if (m == NULL) return boolean(env, false);
  if (copy.shared) {
    shmem_map_release(copy.addr, copy.size, copy.prot, copy.flags);
  } else {
    shmem_unmap(copy.addr, copy.size, copy.flags);
  }
  return boolean(env, true);
}

/* The prologue of the memory controls of a raw mapping: (buffer, ..., offset, length) with
 * the mapping described as a segment; false to JS when buffer is not one. */
#define RAW_RANGE(n)                                                                      \
  GET_ARGS(n);                                                                            \
  raw_mapping_t copy;                                                                     \
  if (!raw_lookup(env, argv[0], &copy)) return boolean(env, false);                       \
  shmem_segment_t seg;                                                                    \
  shmem_map_segment(&seg, copy.addr, copy.size, copy.flags);                              \
  uint64_t offset, length;                                                                \
  if (!shmem_arg_u64(env, argv[(n) - 2], "offset", seg.size, &offset)) return NULL;       \
  if (!shmem_arg_u64(env, argv[(n) - 1], "length", seg.size - offset, &length)) return NULL; \
  shmem_err_t err = {0, NULL}

static napi_value raw_done(napi_env env, int r, const shmem_err_t *err) {
  if (r < 0) {
    shmem_napi_throw_core(env, err, NULL);
    return NULL;
  }
  return boolean(env, true);
}

/* mapAdvise(buffer, advice, offset, length) -> false when buffer is not a raw mapping */
static napi_value map_advise(napi_env env, napi_callback_info info) {
  RAW_RANGE(4);
  int64_t advice;
  if (!shmem_arg_i64(env, argv[1], "advice", 0, INT_MAX, &advice)) return NULL;
  if (!arg_advice_allowed(env, advice)) return NULL;
  return raw_done(env, shmem_advise(&seg, (int)advice, offset, length, &err), &err);
}

/* mapSync(buffer, flags, offset, length) */
static napi_value map_sync(napi_env env, napi_callback_info info) {
  RAW_RANGE(4);
  int64_t flags;
  if (!shmem_arg_i64(env, argv[1], "flags", 0, 3, &flags)) return NULL;
  return raw_done(env, shmem_sync(&seg, offset, length, (int)flags, &err), &err);
}

/* mapResidency(buffer, offset, length) -> [residentPages, totalPages] (a fresh array: the
 * segments' scratch belongs to lib/segment.js, and this is no hot path). */
static napi_value map_residency(napi_env env, napi_callback_info info) {
  RAW_RANGE(3);
  uint64_t resident = 0, total = 0;
  int r = shmem_residency(&seg, offset, length, &resident, &total, &err);
  if (r < 0) return raw_done(env, r, &err);
  napi_value out, a, b;
  NAPI_CALL(env, napi_create_array_with_length(env, 2, &out));
  NAPI_CALL(env, napi_create_double(env, (double)resident, &a));
  NAPI_CALL(env, napi_create_double(env, (double)total, &b));
  NAPI_CALL(env, napi_set_element(env, out, 0, a));
  NAPI_CALL(env, napi_set_element(env, out, 1, b));
  return out;
}

/* mapSharedSupported() -> whether map(..., shared = true) can work on this Node. */
static napi_value map_shared_supported(napi_env env, napi_callback_info info) {
  (void)info;
  return boolean(env, shmem_napi_has_external_sab());
}

napi_status shmem_napi_memory_init(napi_env env, napi_value exports) {
  static const shmem_napi_export_t fns[] = {
      {"advise", advise},
      {"sync", sync_},
      {"residency", residency},
      {"lockMemory", lock_memory},
      {"unlockMemory", unlock_memory},
      {"stat", stat_},
      {"map", map},
      {"mapShared", map_shared},
      {"unmap", unmap},
      {"mapAdvise", map_advise},
      {"mapSync", map_sync},
      {"mapResidency", map_residency},
      {"mapSharedSupported", map_shared_supported},
  };
  return SHMEM_NAPI_EXPORT(env, exports, fns);
}
