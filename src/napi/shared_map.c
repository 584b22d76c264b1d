/* Shared maps for JavaScript: a thin layer over src/shared_map*.c.
 *
 * A map handle is an external (tagged) holding the view, the segment it pins (close() of the
 * segment cannot unmap under it) and a scratch buffer values are copied into. The hot calls
 * (get, set) are one Node-API call each: the key is read from the string into a stack buffer,
 * the core hashes and probes, and the result is made once, as a string or a Buffer by the
 * map's encoding. Keys are strings (their UTF-8) or bytes; a key's flag says which, so that a
 * walk gives back what was set. */
#include "binding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR_KEY 1u /* key_flags: the key was a string */
#define MAX_SAFE 9007199254740991ll

typedef struct map_handle_s {
  shmem_shared_map_t m;
  segment_handle_t *seg; /* pinned; NULL once closed */
  unsigned char *scratch;
  size_t scratch_size;
} map_handle_t;

static const napi_type_tag map_tag = {0x7368656d5f6d6170ULL, 0x5f68616e646c6531ULL};

static void handle_close(map_handle_t *h) {
  if (h->seg == NULL) return;
  shmem_shared_map_detach(&h->m);
  shmem_napi_segment_unpin(h->seg);
  h->seg = NULL;
}

static void handle_finalize(napi_env env, void *data, void *hint) {
  map_handle_t *h = data;
  handle_close(h);
  free(h->scratch);
  free(h);
}

/* The open map in v, else throws. */
static map_handle_t *map_of(napi_env env, napi_value v) {
  bool tagged = false;
  void *data = NULL;
  if (napi_check_object_type_tag(env, v, &map_tag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &data) != napi_ok) {
    shmem_napi_throw_arg_type(env, "handle", "a map handle", v);
    return NULL;
  }
  map_handle_t *h = data;
  if (h->seg == NULL) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_CLOSED, "The map");
    return NULL;
  }
  if (shmem_napi_segment_is_closed(h->seg)) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_CLOSED, "The map's segment");
    return NULL;
  }
  return h;
}

/* The prologue of every call on an open map: n arguments, the first the handle. */
#define MAP_CALL(n)                          \
  GET_ARGS(n);                               \
  map_handle_t *h = map_of(env, argv[0]);    \
  if (h == NULL) return NULL

static bool scratch_room(napi_env env, map_handle_t *h, size_t n) {
  if (n <= h->scratch_size) return true;
  size_t size = n < 4096 ? 4096 : n;
  unsigned char *p = realloc(h->scratch, size);
  if (p == NULL) {
    shmem_napi_throw_errno(env, -ENOMEM, "realloc");
    return false;
  }
  h->scratch = p;
  h->scratch_size = size;
  return true;
}

static void throw_too_long(napi_env env, const char *name, uint64_t max, uint64_t got) {
  char range[48], shown[48];
  snprintf(range, sizeof(range), "at most %llu bytes", (unsigned long long)max);
  snprintf(shown, sizeof(shown), "%llu bytes", (unsigned long long)got);
  shmem_napi_throw_error(env, SHMEM_NAPI_E_ARG_RANGE, name, range, shown);
}

/* Throws what a map call's failure r means. */
static void map_throw(napi_env env, map_handle_t *h, int r) {
  switch (r) {
    case SHMEM_EBADSTATE:
      shmem_napi_throw_error(env, SHMEM_NAPI_E_BAD_STATE, "The map's shared state",
                             SHMEM_NAPI_GARBAGE);
      return;
    case SHMEM_EFULL:
      shmem_napi_throw_error(env, SHMEM_NAPI_E_MAP_FULL, h->m.capacity);
      return;
    case -ETIMEDOUT:
      shmem_napi_throw_error(env, SHMEM_NAPI_E_TIMED_OUT, "map's writer lock");
      return;
    default:
      shmem_napi_throw_errno(env, r, "sharedMap");
  }
}

/* A key: a string (read into buf, which has room for max + 8 bytes) or bytes. */
typedef struct key_s {
  const void *data;
  size_t len;
  uint32_t flags;
} map_key_t;

static bool arg_key(napi_env env, map_handle_t *h, napi_value v, char *buf, size_t room,
                    map_key_t *k) {
  size_t len = 0;
  napi_status st = napi_get_value_string_utf8(env, v, buf, room, &len);
  if (st == napi_ok) {
    /* The copy stops short of room - 1 by less than a character when the key is longer. */
    if (len > h->m.max_key_bytes) {
      size_t full = len;
      napi_get_value_string_utf8(env, v, NULL, 0, &full);
      throw_too_long(env, "key", h->m.max_key_bytes, full);
      return false;
    }
    k->data = buf;
    k->len = len;
    k->flags = STR_KEY;
    return true;
  }
  void *data = NULL;
  if (napi_get_buffer_info(env, v, &data, &len) != napi_ok) {
    shmem_napi_throw_arg_type(env, "key", "of type string or a Buffer, TypedArray or DataView",
                              v);
    return false;
  }
  if (len > h->m.max_key_bytes) {
    throw_too_long(env, "key", h->m.max_key_bytes, len);
    return false;
  }
  k->data = data;
  k->len = len;
  k->flags = 0;
  return true;
}

/* The key argument argv[1] into k, with its stack buffer. */
#define KEY_ARG(k)                                                 \
  size_t key_room_ = (size_t)h->m.max_key_bytes + 8;               \
  char key_buf_[key_room_];                                        \
  map_key_t k;                                                         \
  if (!arg_key(env, h, argv[1], key_buf_, key_room_, &k)) return NULL

/* A value as the map's encoding gives it back: a string (utf8, json) or a Buffer. */
static napi_value make_value(napi_env env, uint32_t encoding, const void *p, size_t len) {
  napi_value out;
  if (encoding == SHMEM_SHARED_MAP_UTF8 || encoding == SHMEM_SHARED_MAP_JSON) {
    NAPI_CALL(env, napi_create_string_utf8(env, p, len, &out));
  } else {
    NAPI_CALL(env, napi_create_buffer_copy(env, len, p, NULL, &out));
  }
  return out;
}

static napi_value number(napi_env env, double v) {
  napi_value out;
  NAPI_CALL(env, napi_create_double(env, v, &out));
  return out;
}

static napi_value boolean(napi_env env, bool v) {
  napi_value out;
  NAPI_CALL(env, napi_get_boolean(env, v, &out));
  return out;
}

/* ---- the functions ------------------------------------------------------------------------- */

static bool arg_options(napi_env env, const napi_value *argv, shmem_shared_map_options_t *o) {
  uint64_t cap, key, value, evict, encoding, ttl;
  if (!shmem_arg_u64(env, argv[0], "capacity", UINT32_MAX, &cap) ||
      !shmem_arg_u64(env, argv[1], "maxKeyBytes", UINT32_MAX, &key) ||
      !shmem_arg_u64(env, argv[2], "maxValueBytes", UINT32_MAX, &value) ||
      !shmem_arg_u64(env, argv[3], "evict", SHMEM_SHARED_MAP_EVICT_LRU, &evict) ||
      !shmem_arg_u64(env, argv[4], "encoding", SHMEM_SHARED_MAP_V8, &encoding) ||
      !shmem_arg_u64(env, argv[5], "ttl", MAX_SAFE, &ttl)) {
    return false;
  }
  o->capacity = (uint32_t)cap;
  o->max_key_bytes = (uint32_t)key;
  o->max_value_bytes = (uint32_t)value;
  o->evict = (uint32_t)evict;
  o->encoding = (uint32_t)encoding;
  o->default_ttl_ms = ttl;
  return true;
}

/* byteLength(capacity, maxKeyBytes, maxValueBytes, evict, encoding, ttl) */
static napi_value map_byte_length(napi_env env, napi_callback_info info) {
  GET_ARGS(6);
  shmem_shared_map_options_t o;
  if (!arg_options(env, argv, &o)) return NULL;
  uint64_t n;
  if (shmem_shared_map_byte_length(&o, &n) < 0) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_MAP_OPTIONS);
    return NULL;
  }
  return number(env, (double)n);
}

/* open(segHandle, offset, length, init, capacity, maxKeyBytes, maxValueBytes, evict, encoding,
 * ttl, out) -> handle; out[0..6] = capacity, maxKeyBytes, maxValueBytes, evict, encoding,
 * ttl, byteLength. init false attaches to what is there. */
static napi_value map_open(napi_env env, napi_callback_info info) {
  GET_ARGS(11);
  uint64_t offset, length;
  bool init;
  shmem_shared_map_options_t o;
  memset(&o, 0, sizeof(o));
  segment_handle_t *sh = shmem_napi_handle(env, argv[0], true);
  if (sh == NULL) return NULL;
  shmem_segment_t *seg = shmem_napi_handle_segment(sh);
  if (!shmem_arg_u64(env, argv[1], "offset", seg->size, &offset)) return NULL;
  if (!shmem_arg_u64(env, argv[2], "byteLength", seg->size - offset, &length)) return NULL;
  if (!shmem_arg_bool(env, argv[3], "init", &init)) return NULL;
  if (init && !arg_options(env, argv + 4, &o)) return NULL;
  double *out;
  size_t out_len;
  if (!shmem_arg_float64_array(env, argv[10], "out", 7, &out, &out_len)) return NULL;
  if ((offset & 63) != 0) {
    char shown[32];
    snprintf(shown, sizeof(shown), "%llu", (unsigned long long)offset);
    shmem_napi_throw_error(env, SHMEM_NAPI_E_ARG_RANGE, "offset", "a multiple of 64", shown);
    return NULL;
  }
  if (seg->flags & (SHMEM_F_READONLY | SHMEM_F_PRIVATE)) {
    /* Readers write too (the CLOCK bit, the counters); MAP_PRIVATE writes reach no peer. */
    shmem_napi_throw_error(env, SHMEM_NAPI_E_MAP_MAPPING,
                           seg->flags & SHMEM_F_READONLY ? "read-only" : "private (MAP_PRIVATE)");
    return NULL;
  }
  map_handle_t *h = calloc(1, sizeof(*h));
  if (h == NULL) {
    shmem_napi_throw_errno(env, -ENOMEM, "calloc");
    return NULL;
  }
  void *mem = (unsigned char *)seg->data + offset;
  int r = init ? shmem_shared_map_init(&h->m, mem, length, &o)
               : shmem_shared_map_attach(&h->m, mem, length);
  if (r < 0) {
    free(h);
    if (r == -ERANGE) shmem_napi_throw_error(env, SHMEM_NAPI_E_MAP_TOO_SMALL);
    else if (r == -EINVAL) shmem_napi_throw_error(env, SHMEM_NAPI_E_MAP_OPTIONS);
    else shmem_napi_throw_error(env, SHMEM_NAPI_E_BAD_STATE, "The map", SHMEM_NAPI_GARBAGE);
    return NULL;
  }
  napi_value external;
  napi_status st = napi_create_external(env, h, handle_finalize, NULL, &external);
  if (st != napi_ok) {
    free(h);
    shmem_napi_throw_status(env, st);
    return NULL;
  }
  h->seg = shmem_napi_segment_pin(env, argv[0]); /* from here the finalizer owns h */
  NAPI_CALL(env, napi_type_tag_object(env, external, &map_tag));
  out[0] = h->m.capacity;
  out[1] = h->m.max_key_bytes;
  out[2] = h->m.max_value_bytes;
  out[3] = h->m.evict;
  out[4] = h->m.encoding;
  out[5] = (double)h->m.default_ttl_ms;
  out[6] = (double)h->m.byte_length;
  return external;
}

/* close(handle): flushes the counts, lets go of the segment. Idempotent. */
static napi_value map_close(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  bool tagged = false;
  void *data = NULL;
  if (napi_check_object_type_tag(env, argv[0], &map_tag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, argv[0], &data) != napi_ok) {
    shmem_napi_throw_arg_type(env, "handle", "a map handle", argv[0]);
    return NULL;
  }
  handle_close(data);
  return NULL;
}

/* Reads key's value into the scratch buffer: 0 and *len, -ENOENT, or another failure. */
static int read_value(map_handle_t *h, napi_env env, const map_key_t *k, uint64_t *len) {
  if (h->scratch == NULL && !scratch_room(env, h, 256)) return -ENOMEM;
  for (;;) {
    int r = shmem_shared_map_get(&h->m, k->data, (uint32_t)k->len, h->scratch, h->scratch_size,
                                 len);
    if (r != -ENOBUFS) return r;
    if (!scratch_room(env, h, (size_t)*len)) return -ENOMEM;
  }
}

/* get(handle, key) -> the value (a string or a Buffer by the encoding), or undefined. */
static napi_value map_get(napi_env env, napi_callback_info info) {
  MAP_CALL(2);
  KEY_ARG(k);
  uint64_t len = 0;
  int r = read_value(h, env, &k, &len);
  if (r == -ENOENT) return NULL;
  if (r == -ENOMEM) return NULL; /* thrown */
  if (r < 0) {
    map_throw(env, h, r);
    return NULL;
  }
  return make_value(env, h->m.encoding, h->scratch, (size_t)len);
}

/* getInto(handle, key, target, quiet) -> bytes written at target, or -1 when absent. A
 * target too small is a RangeError (quiet: returns -2 - the value's length instead). */
static napi_value map_get_into(napi_env env, napi_callback_info info) {
  MAP_CALL(4);
  KEY_ARG(k);
  void *data = NULL;
  size_t room = 0;
  if (napi_get_buffer_info(env, argv[2], &data, &room) != napi_ok) {
    shmem_napi_throw_arg_type(env, "target", "a Buffer, TypedArray or DataView", argv[2]);
    return NULL;
  }
  uint64_t len = 0;
  int r = shmem_shared_map_get(&h->m, k.data, (uint32_t)k.len, data, room, &len);
  if (r == -ENOENT) return number(env, -1);
  bool quiet = false;
  if (r == -ENOBUFS && !shmem_arg_bool(env, argv[3], "quiet", &quiet)) return NULL;
  if (r == -ENOBUFS && quiet) return number(env, -2 - (double)len);
  if (r == -ENOBUFS) {
    char range[64], shown[32];
    snprintf(range, sizeof(range), ">= %llu (the value's length)", (unsigned long long)len);
    snprintf(shown, sizeof(shown), "%zu", room);
    shmem_napi_throw_error(env, SHMEM_NAPI_E_ARG_RANGE, "target.byteLength", range, shown);
    return NULL;
  }
  if (r < 0) {
    map_throw(env, h, r);
    return NULL;
  }
  return number(env, (double)len);
}

/* has(handle, key) -> boolean */
static napi_value map_has(napi_env env, napi_callback_info info) {
  MAP_CALL(2);
  KEY_ARG(k);
  int r = shmem_shared_map_has(&h->m, k.data, (uint32_t)k.len);
  if (r < 0) {
    map_throw(env, h, r);
    return NULL;
  }
  return boolean(env, r == 1);
}

/* set(handle, key, value, ttl): value a string (its UTF-8) or bytes; ttl ms, -1 the map's
 * default, 0 never. */
static napi_value map_set(napi_env env, napi_callback_info info) {
  MAP_CALL(4);
  KEY_ARG(k);
  int64_t ttl;
  if (!shmem_arg_i64(env, argv[3], "ttl", -1, MAX_SAFE, &ttl)) return NULL;
  const void *value = NULL;
  size_t len = 0;
  if (napi_get_buffer_info(env, argv[2], (void **)&value, &len) != napi_ok) {
    /* A string: its UTF-8 into the scratch buffer (the length first when it may not fit). */
    size_t max = h->m.max_value_bytes;
    if (!scratch_room(env, h, max < 256 ? max + 8 : 256)) return NULL;
    if (napi_get_value_string_utf8(env, argv[2], (char *)h->scratch, h->scratch_size, &len) !=
        napi_ok) {
      shmem_napi_throw_arg_type(env, "value", "of type string or a Buffer, TypedArray or DataView",
                                argv[2]);
      return NULL;
    }
    if (len + 4 >= h->scratch_size) { /* maybe cut short: measure, then copy whole */
      NAPI_CALL(env, napi_get_value_string_utf8(env, argv[2], NULL, 0, &len));
      if (len <= max) {
        if (!scratch_room(env, h, len + 1)) return NULL;
        NAPI_CALL(env, napi_get_value_string_utf8(env, argv[2], (char *)h->scratch,
                                                  h->scratch_size, &len));
      }
    }
    value = h->scratch;
  }
  if (len > h->m.max_value_bytes) {
    throw_too_long(env, "value", h->m.max_value_bytes, len);
    return NULL;
  }
  int r = shmem_shared_map_set(&h->m, k.data, (uint32_t)k.len, k.flags, value, len, ttl);
  if (r < 0) map_throw(env, h, r);
  return NULL;
}

/* delete(handle, key) -> boolean */
static napi_value map_delete(napi_env env, napi_callback_info info) {
  MAP_CALL(2);
  KEY_ARG(k);
  int r = shmem_shared_map_delete(&h->m, k.data, (uint32_t)k.len);
  if (r < 0) {
    map_throw(env, h, r);
    return NULL;
  }
  return boolean(env, r == 1);
}

/* increment(handle, key, by) -> the new value; its magnitude stays a safe integer. */
static napi_value map_increment(napi_env env, napi_callback_info info) {
  MAP_CALL(3);
  KEY_ARG(k);
  int64_t by, v = 0;
  if (!shmem_arg_i64(env, argv[2], "by", -MAX_SAFE, MAX_SAFE, &by)) return NULL;
  int r = shmem_shared_map_increment(&h->m, k.data, (uint32_t)k.len, k.flags, by, MAX_SAFE, &v);
  if (r == -EINVAL) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_MAP_NOT_INTEGER);
    return NULL;
  }
  if (r == -ERANGE) {
    char shown[32];
    snprintf(shown, sizeof(shown), "%lld", (long long)by);
    shmem_napi_throw_error(env, SHMEM_NAPI_E_ARG_RANGE, "by",
                           "such that the result stays within +/-(2^53 - 1) and fits in "
                           "maxValueBytes", shown);
    return NULL;
  }
  if (r < 0) {
    map_throw(env, h, r);
    return NULL;
  }
  return number(env, (double)v);
}

/* clear(handle) */
static napi_value map_clear(napi_env env, napi_callback_info info) {
  MAP_CALL(1);
  int r = shmem_shared_map_clear(&h->m);
  if (r < 0) map_throw(env, h, r);
  return NULL;
}

/* purge(handle) -> how many expired keys it removed */
static napi_value map_purge(napi_env env, napi_callback_info info) {
  MAP_CALL(1);
  uint64_t n = 0;
  int r = shmem_shared_map_purge(&h->m, &n);
  if (r < 0) {
    map_throw(env, h, r);
    return NULL;
  }
  return number(env, (double)n);
}

/* lock(handle) -> true when it was taken over from a dead writer (the map was repaired). */
static napi_value map_lock(napi_env env, napi_callback_info info) {
  MAP_CALL(1);
  int r = shmem_shared_map_lock(&h->m);
  if (r < 0) {
    map_throw(env, h, r);
    return NULL;
  }
  return boolean(env, r == 1);
}

/* unlock(handle) */
static napi_value map_unlock(napi_env env, napi_callback_info info) {
  MAP_CALL(1);
  shmem_shared_map_unlock(&h->m);
  return NULL;
}

/* next(handle, cursor) -> [cursor after it, key, value], or undefined at the end. The key is
 * a string when it was set as one, else a Buffer. */
static napi_value map_next(napi_env env, napi_callback_info info) {
  MAP_CALL(2);
  int64_t cursor;
  if (!shmem_arg_i64(env, argv[1], "cursor", 0, UINT32_MAX, &cursor)) return NULL;
  if (!scratch_room(env, h, (size_t)h->m.max_key_bytes + 256)) return NULL;
  uint64_t c = (uint64_t)cursor;
  shmem_shared_map_item_t it;
  int r;
  for (;;) {
    it.key = h->scratch;
    it.key_size = h->m.max_key_bytes;
    it.value = h->scratch + h->m.max_key_bytes;
    it.value_size = h->scratch_size - h->m.max_key_bytes;
    r = shmem_shared_map_next(&h->m, &c, &it);
    if (r != -ENOBUFS) break;
    if (!scratch_room(env, h, (size_t)h->m.max_key_bytes + it.value_len)) return NULL;
  }
  if (r == -ENOENT) return NULL;
  if (r < 0) {
    map_throw(env, h, r);
    return NULL;
  }
  napi_value out, parts[3];
  parts[0] = number(env, (double)c);
  if (it.key_flags & STR_KEY) {
    NAPI_CALL(env, napi_create_string_utf8(env, it.key, it.key_len, &parts[1]));
  } else {
    NAPI_CALL(env, napi_create_buffer_copy(env, it.key_len, it.key, NULL, &parts[1]));
  }
  parts[2] = make_value(env, h->m.encoding, it.value, (size_t)it.value_len);
  if (parts[0] == NULL || parts[2] == NULL) return NULL;
  NAPI_CALL(env, napi_create_array_with_length(env, 3, &out));
  for (uint32_t i = 0; i < 3; i++) NAPI_CALL(env, napi_set_element(env, out, i, parts[i]));
  return out;
}

/* stats(handle, out): out[0..7] = entries, bytes, capacity, hits, misses, evictions,
 * expirations, recoveries. */
static napi_value map_stats(napi_env env, napi_callback_info info) {
  MAP_CALL(2);
  double *out;
  size_t out_len;
  if (!shmem_arg_float64_array(env, argv[1], "out", 8, &out, &out_len)) return NULL;
  shmem_shared_map_stats_t st;
  shmem_shared_map_stats(&h->m, &st);
  out[0] = (double)st.entries;
  out[1] = (double)st.bytes;
  out[2] = (double)st.capacity;
  out[3] = (double)st.hits;
  out[4] = (double)st.misses;
  out[5] = (double)st.evictions;
  out[6] = (double)st.expirations;
  out[7] = (double)st.recoveries;
  return NULL;
}

napi_status shmem_napi_shared_map_init(napi_env env, napi_value exports) {
  static const shmem_napi_export_t fns[] = {
      {"mapByteLength", map_byte_length}, {"mapOpen", map_open},
      {"mapClose", map_close},            {"mapGet", map_get},
      {"mapGetInto", map_get_into},       {"mapHas", map_has},
      {"mapSet", map_set},                {"mapDelete", map_delete},
      {"mapIncrement", map_increment},    {"mapClear", map_clear},
      {"mapPurge", map_purge},            {"mapLock", map_lock},
      {"mapUnlock", map_unlock},          {"mapNext", map_next},
      {"mapStats", map_stats},
  };
  return SHMEM_NAPI_EXPORT(env, exports, fns);
}
