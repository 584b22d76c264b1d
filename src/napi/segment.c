/* Segment handles for JavaScript: opening, the ArrayBuffers over a mapping, close.
 *
 * Lifetime. A handle (an external tagged as ours) owns a shmem_segment_t. Every ArrayBuffer
 * handed to JS over the mapping holds a reference too, so the mapping outlives a collected
 * Segment while any Buffer or view still reaches it. close() detaches every ArrayBuffer first
 * (every TypedArray, DataView and Buffer over one becomes length 0) and only then unmaps:
 * nothing left in JS can reach the unmapped memory. The handle and the ArrayBuffers all run on
 * the thread of the environment that made them.
 *
 * A SharedArrayBuffer cannot be detached, and V8 frees its backing store on whichever thread
 * drops the last one (a worker it was posted to), perhaps after this environment is gone. So
 * each holds a reference on the handle and one on the mapping itself (map_refs), both atomic:
 * the handle's own hold on the mapping goes when close() finds nothing left to wait for, and
 * whoever drops the last hold unmaps. */
#include "binding.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct ab_link_s ab_link_t;

typedef struct segment_handle_s {
  shmem_segment_t seg;
  _Atomic uint32_t refs; /* the JS handle, one per live ArrayBuffer, one per SharedArrayBuffer */
  _Atomic uint32_t map_refs; /* holds on the mapping: the handle's own until close() lets it
                              * go (own_hold_released), plus one per live SharedArrayBuffer */
  bool own_hold_released;
  bool closed;
  bool closing;       /* close() walks the list: ab_finalize only marks links meanwhile */
  bool unmap_pending; /* closed while native users ran: the last one to finish unmaps */
  uint32_t busy;      /* native users of the mapping or the fd: waiter threads (wait.c) and
                       * channels (pins); close() leaves the mapping to the last of them */
  ab_link_t *abs;     /* the live ArrayBuffers over the mapping */
  char *path;     /* what error messages name: "/name", a file's path; may be NULL */
} segment_handle_t;

struct ab_link_s {
  segment_handle_t *owner;
  napi_ref ref; /* weak: it must not keep the ArrayBuffer alive */
  bool detached; /* close() detached it: no JS object reaches its memory any more */
  bool finalized; /* its finalizer ran while close() walked the list: freed after the walk */
  ab_link_t *prev, *next;
};

static const napi_type_tag segment_tag = {0x7368656d5f736567ULL, 0x5f68616e646c6531ULL};

static void handle_release(segment_handle_t *h) {
  if (--h->refs > 0) return;
  shmem_segment_close(&h->seg);
  free(h->path);
  free(h);
}

static void handle_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  handle_release((segment_handle_t *)data);
}

/* Drops one hold on the mapping, from any thread: the last one unmaps. */
static void mapping_release(segment_handle_t *h) {
  if (atomic_fetch_sub(&h->map_refs, 1) == 1) shmem_segment_close(&h->seg);
}

/* After close(), on the environment's thread: the handle lets its hold on the mapping go, once.
 * Unmaps now unless a SharedArrayBuffer still holds it. */
static void release_own_hold(segment_handle_t *h) {
  if (h->own_hold_released) return;
  h->own_hold_released = true;
  mapping_release(h);
}

/* After close(): unmaps once no ArrayBuffer that close() could not detach is left, and no
 * native user (a waiter thread, a channel) still works on the mapping. */
static void unmap_if_unreachable(segment_handle_t *h) {
  for (ab_link_t *link = h->abs; link != NULL; link = link->next) {
    if (!link->detached) return;
  }
  if (h->busy > 0) {
    h->unmap_pending = true;
  } else {
    release_own_hold(h);
  }
}

/* Runs when V8 frees the ArrayBuffer's backing store: the memory follows the backing store,
 * not the first ArrayBuffer object (ArrayBuffer.prototype.transfer() and a postMessage
 * transfer list move it to another), so only now is this range unreachable from JS. */
static void ab_unlink(napi_env env, ab_link_t *link) {
  segment_handle_t *h = link->owner;
  if (link->prev != NULL) link->prev->next = link->next;
  else h->abs = link->next;
  if (link->next != NULL) link->next->prev = link->prev;
  if (link->ref != NULL) napi_delete_reference(env, link->ref);
  free(link);
}

static void ab_finalize(napi_env env, void *data, void *hint) {
  (void)data;
  ab_link_t *link = (ab_link_t *)hint;
  segment_handle_t *h = link->owner;
  /* Node calls this from a later turn of the event loop; Bun may call it inside the detach
   * that close() makes, while close() walks this very list: then only mark the link. */
  if (h->closing) {
    link->finalized = true;
    return;
  }
  ab_unlink(env, link);
  if (h->closed) unmap_if_unreachable(h);
  handle_release(h);
}

/* Reads the handle in argument slot v: an external carrying our tag, else a TypeError. */
segment_handle_t *shmem_napi_handle(napi_env env, napi_value v, bool must_be_open) {
  napi_valuetype t;
  bool tagged = false;
  if (napi_typeof(env, v, &t) != napi_ok) return NULL;
  if (t == napi_external) napi_check_object_type_tag(env, v, &segment_tag, &tagged);
  if (!tagged) {
    shmem_napi_throw_arg_type(env, "handle", "a segment handle", v);
    return NULL;
  }
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok) return NULL;
  segment_handle_t *h = (segment_handle_t *)data;
  if (must_be_open && h->closed) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_CLOSED, "The segment");
    return NULL;
  }
  return h;
}

shmem_segment_t *shmem_napi_segment(napi_env env, napi_value v, const char **path) {
  segment_handle_t *h = shmem_napi_handle(env, v, true);
  if (h == NULL) return NULL;
  if (path != NULL) *path = h->path;
  return &h->seg;
}

static void fill_scratch(napi_env env, const shmem_segment_t *seg) {
  double *s = shmem_napi_scratch(env);
  if (s == NULL) return;
  s[0] = (double)seg->size;
  s[1] = seg->fd;
  s[2] = seg->shmid;
  s[3] = seg->key;
  s[4] = seg->created;
  s[5] = seg->kind;
  s[6] = seg->flags;
}

segment_handle_t *shmem_napi_handle_new(void) {
  segment_handle_t *h = calloc(1, sizeof(*h));
  if (h != NULL) {
    h->seg.fd = -1;
    h->seg.shmid = -1;
    atomic_init(&h->refs, 0);
    atomic_init(&h->map_refs, 1);
  }
  return h;
}

shmem_segment_t *shmem_napi_handle_segment(segment_handle_t *h) {
  return &h->seg;
}

napi_value shmem_napi_handle_finish(napi_env env, segment_handle_t *h, int r,
                                    const shmem_err_t *err, const char *path) {
  if (r < 0) {
    shmem_napi_throw_core(env, err, path);
    free(h);
    return NULL;
  }
  if (path != NULL && path[0] != '\0') h->path = strdup(path);
  napi_value external;
  napi_status st = napi_create_external(env, h, handle_finalize, NULL, &external);
  if (st != napi_ok) {
    shmem_segment_close(&h->seg);
    free(h->path);
    free(h);
    shmem_napi_throw_status(env, st);
    return NULL;
  }
  /* From here the finalizer owns h. */
  h->refs = 1;
  NAPI_CALL(env, napi_type_tag_object(env, external, &segment_tag));
  fill_scratch(env, &h->seg);
  return external;
}

/* The arguments (handle, offset, length) of a buffer over part of an open segment's mapping. */
static segment_handle_t *range_args(napi_env env, napi_callback_info info, uint64_t *offset,
                                    uint64_t *length) {
  GET_ARGS(3);
  segment_handle_t *h = shmem_napi_handle(env, argv[0], true);
  if (h == NULL) return NULL;
  if (!shmem_arg_u64(env, argv[1], "offset", h->seg.size, offset)) return NULL;
  if (!shmem_arg_u64(env, argv[2], "length", h->seg.size - *offset, length)) return NULL;
  return h;
}

/* arrayBuffer(handle, offset, length): an external ArrayBuffer over [offset, offset + length)
 * of the mapping, registered so that close() can detach it. */
napi_value shmem_napi_array_buffer(napi_env env, napi_callback_info info) {
  uint64_t offset, length;
  segment_handle_t *h = range_args(env, info, &offset, &length);
  if (h == NULL) return NULL;

  ab_link_t *link = calloc(1, sizeof(*link));
  if (link == NULL) {
    shmem_napi_throw_errno(env, -ENOMEM, "calloc");
    return NULL;
  }
  link->owner = h;
  napi_value ab;
  napi_status st = napi_create_external_arraybuffer(env, (char *)h->seg.data + offset,
                                                    (size_t)length, ab_finalize, link, &ab);
  if (st != napi_ok) {
    free(link);
    shmem_napi_throw_arraybuffer_status(env, st, length);
    return NULL;
  }
  /* The finalizer now owns link: count it and put it on the list before anything can fail. */
  h->refs++;
  link->next = h->abs;
  if (h->abs != NULL) h->abs->prev = link;
  h->abs = link;
  st = napi_create_reference(env, ab, 0, &link->ref);
  if (st != napi_ok) {
    /* Without a reference close() could not detach it: never hand it out. */
    link->ref = NULL;
    napi_detach_arraybuffer(env, ab);
    shmem_napi_throw_status(env, st);
    return NULL;
  }
  return ab;
}

/* Runs when the runtime frees a SharedArrayBuffer's backing store: on any thread, perhaps after
 * the environment that made it is gone, so it touches only the atomic counts. */
static void sab_finalize(void *data, void *hint) {
  (void)data;
  segment_handle_t *h = (segment_handle_t *)hint;
  mapping_release(h);
  handle_release(h);
}

/* sharedArrayBuffer(handle, offset, length): a SharedArrayBuffer over [offset, offset + length)
 * of the mapping. close() cannot detach it: it holds the mapping until the runtime frees it. */
napi_value shmem_napi_shared_array_buffer(napi_env env, napi_callback_info info) {
  uint64_t offset, length;
  segment_handle_t *h = range_args(env, info, &offset, &length);
  if (h == NULL) return NULL;
  if (!shmem_napi_has_external_sab()) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_NO_SHARED_ARRAY_BUFFER);
    return NULL;
  }
  /* Counted first: the finalizer, once armed, may run on another thread at any time. */
  h->refs++;
  h->map_refs++;
  napi_value sab;
  napi_status st = shmem_napi_create_external_sab(env, (char *)h->seg.data + offset,
                                                  (size_t)length, sab_finalize, h, &sab);
  if (st != napi_ok) {
    /* Never made, so never finalized. The JS handle and the open mapping hold their own
     * references: neither count reaches zero here. */
    h->map_refs--;
    h->refs--;
    shmem_napi_throw_arraybuffer_status(env, st, length);
    return NULL;
  }
  return sab;
}

/* Detaches ab for close(); false when it cannot be. Not when someone else already did: it was
 * transferred, and its memory lives on in the ArrayBuffer it moved to. detach is a JS function
 * that detaches without the risk of napi_detach_arraybuffer, or undefined: from Node 24 on, a
 * markAsUntransferable() of the user's is a V8 detach key, and napi_detach_arraybuffer aborts
 * the process on such a buffer instead of failing (lib/segment.js says how it detaches). */
static bool detach(napi_env env, napi_value ab, napi_value fn) {
  bool detached = true;
  if (napi_is_detached_arraybuffer(env, ab, &detached) != napi_ok || detached) return false;
  napi_valuetype t = napi_undefined;
  if (fn == NULL || napi_typeof(env, fn, &t) != napi_ok || t != napi_function) {
    return napi_detach_arraybuffer(env, ab) == napi_ok;
  }
  napi_value undefined, ignored;
  if (napi_get_undefined(env, &undefined) != napi_ok) return false;
  if (napi_call_function(env, undefined, fn, 1, &ab, &ignored) != napi_ok) {
    /* A detach key: this buffer stays attached (and the mapping with it), close() goes on. */
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_get_and_clear_last_exception(env, &ignored);
    }
    return false;
  }
  return napi_is_detached_arraybuffer(env, ab, &detached) == napi_ok && detached;
}

/* close(handle[, detach]): detaches every ArrayBuffer it can, then unmaps and closes the fd.
 * Idempotent. An ArrayBuffer it cannot detach (transferred, marked, or already
 * collected while its backing store lives on elsewhere) may still reach the memory: then the
 * mapping stays until V8 frees the last such backing store (ab_finalize), rather than let a
 * touch fault. A waiter thread still sleeping on the mapping (or polling the fd), or a
 * channel's, is told to stop, and the last one to finish unmaps: until then neither the memory
 * nor the fd number may go. */
napi_value shmem_napi_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2] = {NULL, NULL};
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  segment_handle_t *h = shmem_napi_handle(env, argv[0], false);
  if (h == NULL || h->closed) return NULL;
  h->closed = true;
  /* detach() runs JS, in which a runtime may finalize buffers (Bun does, at once): while
   * `closing` the finalizers only mark their links, and the walk after this one frees them. */
  h->closing = true;
  for (ab_link_t *link = h->abs; link != NULL; link = link->next) {
    napi_value ab = NULL;
    if (link->finalized || link->ref == NULL ||
        napi_get_reference_value(env, link->ref, &ab) != napi_ok || ab == NULL) {
      continue;
    }
    if (detach(env, ab, argc > 1 ? argv[1] : NULL)) link->detached = true;
  }
  h->closing = false;
  uint32_t released = 0;
  for (ab_link_t *link = h->abs, *next; link != NULL; link = next) {
    next = link->next;
    if (!link->finalized) continue;
    ab_unlink(env, link);
    released++;
  }
  if (h->busy > 0) shmem_napi_cancel_waiters(env, h);
  unmap_if_unreachable(h);
  /* The JS handle passed in holds a reference too, so these never free h. */
  while (released-- > 0) handle_release(h);
  return NULL;
}

void shmem_napi_handle_busy(segment_handle_t *h) {
  h->busy++;
  h->refs++;
}

void shmem_napi_handle_idle(segment_handle_t *h) {
  if (--h->busy == 0 && h->unmap_pending) {
    h->unmap_pending = false;
    release_own_hold(h);
  }
  handle_release(h);
}

/* Pins: a native user (a channel and its waiter threads) keeps the mapping while it works;
 * a close() in between detaches the JS views at once and unmaps at the last unpin. */
segment_handle_t *shmem_napi_segment_pin(napi_env env, napi_value v) {
  segment_handle_t *h = shmem_napi_handle(env, v, true);
  if (h == NULL) return NULL;
  shmem_napi_handle_busy(h);
  return h;
}

void shmem_napi_segment_unpin(segment_handle_t *h) {
  shmem_napi_handle_idle(h);
}

bool shmem_napi_segment_is_closed(const segment_handle_t *h) { return h->closed; }

/* unlink(handle): removes the name (shm_unlink, IPC_RMID); false when already gone. Works on
 * a closed segment too: it acts on the name, not the mapping. */
napi_value shmem_napi_unlink(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  segment_handle_t *h = shmem_napi_handle(env, argv[0], false);
  if (h == NULL) return NULL;
  shmem_err_t err = {0, NULL};
  int r = shmem_segment_unlink(&h->seg, &err);
  if (r < 0 && r != -ENOENT) {
    shmem_napi_throw_core(env, &err, h->path);
    return NULL;
  }
  napi_value result;
  NAPI_CALL(env, napi_get_boolean(env, r == 0, &result));
  return result;
}

napi_value shmem_napi_segment_name(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  segment_handle_t *h = shmem_napi_handle(env, argv[0], false);
  if (h == NULL) return NULL;
  napi_value result;
  NAPI_CALL(env, napi_create_string_utf8(env, h->seg.name, NAPI_AUTO_LENGTH, &result));
  return result;
}
