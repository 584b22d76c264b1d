/* Channels for JavaScript: a thin layer over src/channel.c.
 *
 * Handles are small integers into a process-wide table, so the hot calls (send, peek,
 * release) take a number instead of unwrapping an object. A handle pins its segment's mapping
 * (close() of the segment detaches the JS views at once and the channel calls then throw
 * ERR_SHMEM_CLOSED; the memory stays mapped until the channel lets go of it), so the waiter
 * threads never touch unmapped memory.
 *
 * Waiting without blocking the event loop: each handle has up to two waiter threads (one for
 * "readable", one for "writable"), each with its own view of the ring. JS arms one with a
 * deadline; the thread spins briefly, sleeps on the ring's futex, and reports through a
 * threadsafe function. JS then does the receive or send itself, on its own thread. An env
 * cleanup hook stops the threads at teardown, so nothing calls into JS after it. */
#include "channel_handles.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static napi_value number(napi_env env, double v) {
  napi_value out;
  NAPI_CALL(env, napi_create_double(env, v, &out));
  return out;
}

/* The prologue of every call on an open channel: n arguments, the first the channel's id, and
 * h its handle (else the call has thrown). */
#define CHANNEL_CALL(n)                                            \
  GET_ARGS(n);                                                     \
  channel_handle_t *h = shmem_napi_channel_lookup(env, argv[0]);   \
  if (h == NULL) return NULL

/* The epilogues. r is what the core returned: `none` (-EAGAIN: nothing there, no room;
 * -ETIMEDOUT) gives if_none; another failure throws; success gives value. */
static napi_value channel_number(napi_env env, int r, int none, double if_none, double value) {
  if (r == none) return number(env, if_none);
  if (r < 0) {
    shmem_napi_channel_throw(env, r);
    return NULL;
  }
  return number(env, value);
}

/* true on success, false for `none`, else throws. */
static napi_value channel_bool(napi_env env, int r, int none) {
  if (r < 0 && r != none) {
    shmem_napi_channel_throw(env, r);
    return NULL;
  }
  napi_value out;
  NAPI_CALL(env, napi_get_boolean(env, r == 0, &out));
  return out;
}

/* undefined on success, else throws. */
static napi_value channel_done(napi_env env, int r) {
  if (r < 0) shmem_napi_channel_throw(env, r);
  return NULL;
}

/* Bytes of a Buffer, TypedArray, DataView or ArrayBuffer. napi_get_buffer_info takes any
 * ArrayBufferView and gives its bytes, in one cheap call (napi_get_typedarray_info walks
 * the element types, which showed in profiles of the hot path). */
static bool arg_bytes(napi_env env, napi_value v, const char *name, void **data, size_t *len) {
  if (napi_get_buffer_info(env, v, data, len) == napi_ok) return true;
  bool is;
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    return napi_get_arraybuffer_info(env, v, data, len) == napi_ok;
  }
  shmem_napi_throw_arg_type(env, name, "a Buffer, TypedArray, DataView or ArrayBuffer", v);
  return false;
}

/* (target, offset) of the receiving calls: the bytes from target[offset] on (an offset past
 * the end gives none). */
static bool arg_target(napi_env env, const napi_value *argv, unsigned char **data,
                       size_t *room) {
  void *bytes;
  size_t size;
  uint32_t offset;
  if (!arg_bytes(env, argv[0], "target", &bytes, &size)) return false;
  if (!shmem_arg_u32(env, argv[1], "offset", UINT32_MAX, &offset)) return false;
  if (offset > size) offset = (uint32_t)size;
  *data = (unsigned char *)bytes + offset;
  *room = size - offset;
  return true;
}

/* which: 0 readable, 1 writable. */
static bool arg_which(napi_env env, napi_value v, uint32_t *which) {
  return shmem_arg_u32(env, v, "which", 1, which);
}

/* Where a pointer into the ring lies, counted from the channel's first byte. */
static double region_offset(channel_handle_t *h, const void *p) {
  return (double)((const unsigned char *)p - h->ch.base);
}

/* ---- the functions ------------------------------------------------------------------------- */

static bool arg_options(napi_env env, napi_value cap_v, napi_value max_v, napi_value kind_v,
                        shmem_channel_options_t *o) {
  uint64_t kind;
  if (!shmem_arg_u64(env, cap_v, "capacity", SHMEM_CHANNEL_MAX_CAPACITY, &o->capacity)) {
    return false;
  }
  if (!shmem_arg_u64(env, max_v, "maxMessageSize", UINT32_MAX, &o->max_message_size)) {
    return false;
  }
  if (!shmem_arg_u64(env, kind_v, "kind", 3, &kind)) return false;
  o->kind = (shmem_channel_kind_t)kind;
  return true;
}

/* byteLength(capacity, maxMessageSize, kind) */
static napi_value byte_length(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  shmem_channel_options_t o;
  if (!arg_options(env, argv[0], argv[1], argv[2], &o)) return NULL;
  uint64_t n;
  if (shmem_channel_byte_length(&o, &n) < 0) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_CHANNEL_OPTIONS);
    return NULL;
  }
  return number(env, (double)n);
}

/* Throws what a failed init or attach of the channel at mem means. */
static void throw_open_failed(napi_env env, int r, bool init, const void *mem, uint64_t length) {
  if (r == -ERANGE) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_CHANNEL_TOO_SMALL);
  } else if (r == -EINVAL) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_CHANNEL_OPTIONS_INVALID);
  } else if (r == SHMEM_EBADSTATE && !init && length >= 8 &&
             __atomic_load_n((const uint32_t *)mem, __ATOMIC_RELAXED) == SHMEM_CHANNEL_MAGIC &&
             __atomic_load_n((const uint32_t *)mem + 1, __ATOMIC_RELAXED) !=
                 SHMEM_CHANNEL_VERSION) {
    /* A channel's magic with another version: another build of shmem made it. Said apart
     * from garbage for the message only (the C core reports both as BADSTATE). */
    char detail[256];
    snprintf(detail, sizeof(detail),
             "it has format version %u; this build of shmem reads version %u only (a process "
             "running another version made it: all processes on one channel need the same "
             "format)",
             __atomic_load_n((const uint32_t *)mem + 1, __ATOMIC_RELAXED),
             (unsigned)SHMEM_CHANNEL_VERSION);
    shmem_napi_throw_error(env, SHMEM_NAPI_E_BAD_STATE, "The channel", detail);
  } else {
    shmem_napi_channel_throw(env, r);
  }
}

/* open(segHandle, offset, length, init, capacity, maxMessageSize, kind, out, callback) -> id.
 * init false attaches to what is there. */
static napi_value channel_open(napi_env env, napi_callback_info info) {
  GET_ARGS(9);
  uint64_t offset, length;
  bool init;
  shmem_channel_options_t o = {0, 0, 0};
  segment_handle_t *sh = shmem_napi_handle(env, argv[0], true);
  if (sh == NULL) return NULL;
  shmem_segment_t *seg = shmem_napi_handle_segment(sh);
  if (!shmem_arg_u64(env, argv[1], "offset", seg->size, &offset)) return NULL;
  if (!shmem_arg_u64(env, argv[2], "byteLength", seg->size - offset, &length)) return NULL;
  if (!shmem_arg_bool(env, argv[3], "init", &init)) return NULL;
  if (init && !arg_options(env, argv[4], argv[5], argv[6], &o)) return NULL;
  double *out;
  size_t out_len;
  if (!shmem_arg_float64_array(env, argv[7], "out", OUT_SLOTS, &out, &out_len)) return NULL;
  if (!shmem_arg_function(env, argv[8], "callback")) return NULL;
  if ((offset & 63) != 0) {
    char shown[32];
    snprintf(shown, sizeof(shown), "%llu", (unsigned long long)offset);
    shmem_napi_throw_error(env, SHMEM_NAPI_E_ARG_RANGE, "offset", "a multiple of 64", shown);
    return NULL;
  }
  if (seg->flags & SHMEM_F_READONLY) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_CHANNEL_READONLY);
    return NULL;
  }
  if (seg->flags & SHMEM_F_PRIVATE) {
    /* MAP_PRIVATE: every write would land in a copy no other process sees. */
    shmem_napi_throw_error(env, SHMEM_NAPI_E_CHANNEL_PRIVATE);
    return NULL;
  }
  channel_handle_t *h = shmem_napi_channel_alloc(env);
  if (h == NULL) {
    /* The table is full (2^20 channels), or calloc failed. */
    shmem_napi_throw_errno(env, -ENOMEM, "channelOpen");
    return NULL;
  }
  void *mem = (unsigned char *)seg->data + offset;
  int r = init ? shmem_channel_init(&h->ch, mem, length, &o)
               : shmem_channel_attach(&h->ch, mem, length);
  if (r < 0) {
    shmem_napi_channel_free(h);
    throw_open_failed(env, r, init, mem, length);
    return NULL;
  }
  h->region_offset = offset;
  h->out = out;
  napi_value name;
  napi_status st = napi_create_reference(env, argv[7], 1, &h->out_ref);
  if (st == napi_ok) st = napi_create_string_utf8(env, "shmem.channel", NAPI_AUTO_LENGTH, &name);
  if (st == napi_ok) {
    st = napi_create_threadsafe_function(env, argv[8], NULL, name, 0, 1, NULL, NULL, h,
                                         shmem_napi_channel_call_js, &h->tsfn);
  }
  if (st == napi_ok) st = napi_unref_threadsafe_function(env, h->tsfn);
  if (st == napi_ok) st = napi_add_env_cleanup_hook(env, shmem_napi_channel_cleanup_hook, h);
  if (st != napi_ok) {
    if (h->tsfn != NULL) napi_release_threadsafe_function(h->tsfn, napi_tsfn_abort);
    h->tsfn = NULL;
    if (h->out_ref != NULL) napi_delete_reference(env, h->out_ref);
    h->out_ref = NULL;
    shmem_channel_detach(&h->ch);
    shmem_napi_channel_free(h);
    shmem_napi_throw_status(env, st);
    return NULL;
  }
  h->seg = shmem_napi_segment_pin(env, argv[0]);
  h->out[0] = (double)h->ch.capacity;
  h->out[1] = (double)h->ch.max_message_size;
  h->out[2] = (double)h->ch.kind;
  h->out[3] = (double)h->ch.byte_length;
  return number(env, h->id);
}

/* close(id): stops the waiters, lets go of the segment. Idempotent. */
static napi_value channel_close(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  uint32_t id;
  if (!shmem_arg_u32(env, argv[0], "id", UINT32_MAX, &id)) return NULL;
  channel_handle_t *h = shmem_napi_channel_find(env, id);
  if (h == NULL) return NULL;
  napi_remove_env_cleanup_hook(env, shmem_napi_channel_cleanup_hook, h);
  shmem_napi_channel_close_handle(h);
  return NULL;
}

/* send(id, data) -> true, or false when there is no room now. */
static napi_value channel_send(napi_env env, napi_callback_info info) {
  CHANNEL_CALL(2);
  void *data;
  size_t len;
  if (!arg_bytes(env, argv[1], "data", &data, &len)) return NULL;
  return channel_bool(env, shmem_channel_send(&h->ch, data, len), -EAGAIN);
}

/* reserve(id, n) -> offset of the room in the channel's region, or -1 when there is none. */
static napi_value channel_reserve(napi_env env, napi_callback_info info) {
  CHANNEL_CALL(2);
  uint64_t n;
  if (!shmem_arg_u64(env, argv[1], "n", UINT32_MAX, &n)) return NULL;
  void *dst = h->ch.base;
  int r = shmem_channel_reserve(&h->ch, n, &dst);
  return channel_number(env, r, -EAGAIN, -1, region_offset(h, dst));
}

/* commit(id, length) */
static napi_value channel_commit(napi_env env, napi_callback_info info) {
  CHANNEL_CALL(2);
  uint64_t n;
  if (!shmem_arg_u64(env, argv[1], "length", UINT32_MAX, &n)) return NULL;
  return channel_done(env, shmem_channel_commit(&h->ch, n));
}

/* abort(id) */
static napi_value channel_abort(napi_env env, napi_callback_info info) {
  CHANNEL_CALL(1);
  return channel_done(env, shmem_channel_abort(&h->ch));
}

/* peek(id) -> the message's length, or -1 when there is none; out[0]: its offset. */
static napi_value channel_peek(napi_env env, napi_callback_info info) {
  CHANNEL_CALL(1);
  const void *data = NULL;
  uint64_t len = 0;
  int r = shmem_channel_peek(&h->ch, &data, &len);
  if (r >= 0) h->out[0] = region_offset(h, data);
  return channel_number(env, r, -EAGAIN, -1, (double)len);
}

/* release(id) */
static napi_value channel_release(napi_env env, napi_callback_info info) {
  CHANNEL_CALL(1);
  return channel_done(env, shmem_channel_release(&h->ch));
}

/* What a receive that found a message too large for the target returns: -2 - its length. */
static double too_large(uint64_t len) {
  return -2 - (double)len;
}

/* receiveInto(id, target, offset, quiet) -> bytes written at target + offset, or -1 when there
 * is no message. A target too small is a RangeError (quiet: returns -2 - length instead) and
 * the message stays. */
static napi_value channel_receive_into(napi_env env, napi_callback_info info) {
  CHANNEL_CALL(4);
  unsigned char *data;
  size_t room;
  bool quiet;
  if (!arg_target(env, argv + 1, &data, &room)) return NULL;
  if (!shmem_arg_bool(env, argv[3], "quiet", &quiet)) return NULL;
  uint64_t len = 0;
  int r = shmem_channel_receive(&h->ch, data, room, &len);
  if (r == -ENOBUFS && quiet) return number(env, too_large(len));
  if (r == -ENOBUFS) {
    char range[64], shown[32];
    snprintf(range, sizeof(range), ">= %llu (the next message's length)",
             (unsigned long long)len);
    snprintf(shown, sizeof(shown), "%zu", room);
    shmem_napi_throw_error(env, SHMEM_NAPI_E_ARG_RANGE, "target.byteLength", range, shown);
    return NULL;
  }
  return channel_number(env, r, -EAGAIN, -1, (double)len);
}

/* receiveWait(id, target, offset, timeoutMs) -> as receiveInto(..., quiet), waiting for a
 * message first (blocking this thread): -1 when the timeout passed. One call instead of a
 * receive, a wait and another receive. */
static napi_value channel_receive_wait(napi_env env, napi_callback_info info) {
  CHANNEL_CALL(4);
  unsigned char *data;
  size_t room;
  int64_t deadline;
  if (!arg_target(env, argv + 1, &data, &room)) return NULL;
  if (!shmem_arg_timeout(env, argv[3], "timeout", &deadline)) return NULL;
  uint64_t len = 0;
  int r;
  for (;;) {
    r = shmem_channel_receive(&h->ch, data, room, &len);
    if (r != -EAGAIN) break;
    r = shmem_channel_wait_readable(&h->ch, deadline, NULL);
    if (r < 0) break;
  }
  if (r == -ENOBUFS) return number(env, too_large(len));
  return channel_number(env, r, -ETIMEDOUT, -1, (double)len);
}

/* sendWait(id, data, timeoutMs) -> true when sent, false when the timeout passed. */
static napi_value channel_send_wait(napi_env env, napi_callback_info info) {
  CHANNEL_CALL(3);
  void *data;
  size_t len;
  int64_t deadline;
  if (!arg_bytes(env, argv[1], "data", &data, &len)) return NULL;
  if (!shmem_arg_timeout(env, argv[2], "timeout", &deadline)) return NULL;
  return channel_bool(env, shmem_channel_send_wait(&h->ch, data, len, deadline), -ETIMEDOUT);
}

/* (which, n, timeoutMs) of the waits: n is the room a writable wait waits for. */
static bool arg_wait(napi_env env, const napi_value *argv, uint32_t *which, uint64_t *n,
                     int64_t *deadline) {
  return arg_which(env, argv[0], which) && shmem_arg_u64(env, argv[1], "n", UINT32_MAX, n) &&
         shmem_arg_timeout(env, argv[2], "timeout", deadline);
}

/* waitSync(id, which, n, timeoutMs) -> 0 ready, 1 timed out, 2 ready but the peer seems to
 * share this CPU. */
static napi_value channel_wait_sync(napi_env env, napi_callback_info info) {
  CHANNEL_CALL(4);
  uint32_t which;
  uint64_t n;
  int64_t deadline;
  if (!arg_wait(env, argv + 1, &which, &n, &deadline)) return NULL;
  int r = which == 0 ? shmem_channel_wait_readable(&h->ch, deadline, NULL)
                     : shmem_channel_wait_writable(&h->ch, n, deadline, NULL);
  /* 2: ready, and the wait found the peer on this CPU (its spin is off): a caller that polls
   * before it waits should not poll either. */
  return channel_number(env, r, -ETIMEDOUT, 1, h->ch.spin_ns == 0 ? 2 : 0);
}

/* wait(id, which, n, timeoutMs): arms a waiter thread; the callback gets (which, result) with
 * result 0 (ready), ETIMEDOUT or ECANCELED. One wait per waiter at a time. */
static napi_value channel_wait(napi_env env, napi_callback_info info) {
  CHANNEL_CALL(4);
  uint32_t which;
  uint64_t n;
  int64_t deadline;
  if (!arg_wait(env, argv + 1, &which, &n, &deadline)) return NULL;
  int r = shmem_napi_channel_waiter_start(h, (int)which);
  if (r < 0) {
    shmem_napi_throw_errno(env, r, "pthread_create");
    return NULL;
  }
  waiter_t *w = &h->waiters[which];
  pthread_mutex_lock(&w->mu);
  w->n = n;
  w->deadline_ns = deadline;
  w->cancel = 0;
  w->requested = true;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  if (h->armed++ == 0) napi_ref_threadsafe_function(env, h->tsfn);
  return NULL;
}

/* cancel(id, which): the armed wait ends with ECANCELED soon. */
static napi_value channel_cancel(napi_env env, napi_callback_info info) {
  CHANNEL_CALL(2);
  uint32_t which;
  if (!arg_which(env, argv[1], &which)) return NULL;
  waiter_t *w = &h->waiters[which];
  if (!w->started) return NULL;
  w->cancel = 1;
  shmem_channel_interrupt(&h->ch);
  return NULL;
}

/* wake(id, which): 1 wakes sleeping receivers, 2 sleeping senders (the JS fast path moved the
 * tail or the head itself). */
static napi_value channel_wake(napi_env env, napi_callback_info info) {
  CHANNEL_CALL(2);
  uint32_t which;
  if (!shmem_arg_u32(env, argv[1], "which", UINT32_MAX, &which)) return NULL;
  shmem_channel_notify(&h->ch, (int)(which & 3));
  return NULL;
}

/* stats(id): out[0..8] = capacity, used, messagesSent, messagesReceived, bytesSent,
 * bytesReceived, senders, receivers, abandoned. */
static napi_value channel_stats(napi_env env, napi_callback_info info) {
  CHANNEL_CALL(1);
  shmem_channel_stats_t st;
  shmem_channel_stats(&h->ch, &st);
  double *o = h->out;
  o[0] = (double)st.capacity;
  o[1] = (double)st.used;
  o[2] = (double)st.messages_sent;
  o[3] = (double)st.messages_received;
  o[4] = (double)st.bytes_sent;
  o[5] = (double)st.bytes_received;
  o[6] = st.senders;
  o[7] = st.receivers;
  o[8] = (double)st.abandoned;
  return NULL;
}

napi_status shmem_napi_channel_init(napi_env env, napi_value exports) {
  static const shmem_napi_export_t fns[] = {
      {"channelByteLength", byte_length},     {"channelOpen", channel_open},
      {"channelClose", channel_close},        {"channelSend", channel_send},
      {"channelReserve", channel_reserve},    {"channelCommit", channel_commit},
      {"channelAbort", channel_abort},        {"channelPeek", channel_peek},
      {"channelRelease", channel_release},    {"channelReceiveInto", channel_receive_into},
      {"channelWaitSync", channel_wait_sync}, {"channelWait", channel_wait},
      {"channelCancel", channel_cancel},      {"channelStats", channel_stats},
      {"channelWake", channel_wake},          {"channelReceiveWait", channel_receive_wait},
      {"channelSendWait", channel_send_wait},
  };
  return SHMEM_NAPI_EXPORT(env, exports, fns);
}
