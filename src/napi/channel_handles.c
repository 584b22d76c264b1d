/* The channel handles of the Node-API layer: the process-wide table of handles and each
 * handle's waiter threads (see src/napi/channel.c for what they are for). */
#include "channel_handles.h"

#include <stdlib.h>
#include <string.h>

/* ---- the table ----------------------------------------------------------------------------- */

#define CHUNK 256
#define CHUNKS 4096
static channel_handle_t *chunks[CHUNKS];
static uint32_t next_id;
static channel_handle_t *free_handles;
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;

/* Handles are never freed, only reused: a stale id can never reach freed memory. */
channel_handle_t *shmem_napi_channel_alloc(napi_env env) {
  pthread_mutex_lock(&table_mu);
  channel_handle_t *h = free_handles;
  if (h != NULL) {
    free_handles = h->next_free;
  } else if (next_id < CHUNK * CHUNKS) {
    uint32_t c = next_id / CHUNK;
    if (chunks[c] == NULL) {
      channel_handle_t *chunk = calloc(CHUNK, sizeof(channel_handle_t));
      if (chunk != NULL) {
        for (uint32_t i = 0; i < CHUNK; i++) chunk[i].id = c * CHUNK + i;
        __atomic_store_n(&chunks[c], chunk, __ATOMIC_RELEASE);
      }
    }
    if (chunks[c] != NULL) h = &chunks[c][next_id++ % CHUNK];
  }
  if (h != NULL) {
    uint32_t id = h->id;
    memset(h, 0, sizeof(*h));
    h->id = id;
    h->env = env;
    h->in_use = true;
  }
  pthread_mutex_unlock(&table_mu);
  return h;
}

void shmem_napi_channel_free(channel_handle_t *h) {
  pthread_mutex_lock(&table_mu);
  h->in_use = false;
  h->env = NULL;
  h->next_free = free_handles;
  free_handles = h;
  pthread_mutex_unlock(&table_mu);
}

channel_handle_t *shmem_napi_channel_find(napi_env env, uint32_t id) {
  channel_handle_t *chunk = id / CHUNK < CHUNKS
                                ? __atomic_load_n(&chunks[id / CHUNK], __ATOMIC_ACQUIRE)
                                : NULL;
  channel_handle_t *h = chunk != NULL ? &chunk[id % CHUNK] : NULL;
  return h != NULL && h->in_use && h->env == env ? h : NULL;
}

/* The open handle with this id, made in this env; else throws and returns NULL. */
channel_handle_t *shmem_napi_channel_lookup(napi_env env, napi_value v) {
  uint32_t id;
  if (!shmem_arg_u32(env, v, "id", UINT32_MAX, &id)) return NULL;
  channel_handle_t *h = shmem_napi_channel_find(env, id);
  if (h == NULL) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_CLOSED, "The channel");
    return NULL;
  }
  if (shmem_napi_segment_is_closed(h->seg)) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_CLOSED, "The channel's segment");
    return NULL;
  }
  /* On spsc, lib/spsc.js moves this handle's head or tail between native calls: what the
   * view cached of the peer's counter may be older than 2^32 bytes of that traffic. */
  if (h->ch.kind == SHMEM_CHANNEL_SPSC) shmem_channel_forget(&h->ch);
  return h;
}

/* Throws what a channel call's failure means. */
void shmem_napi_channel_throw(napi_env env, int r) {
  switch (r) {
    case SHMEM_EBADSTATE:
      shmem_napi_throw_error(env, SHMEM_NAPI_E_BAD_STATE, "The channel's shared state",
                             SHMEM_NAPI_GARBAGE);
      return;
    case -EMSGSIZE:
      shmem_napi_throw_error(env, SHMEM_NAPI_E_MESSAGE_TOO_LARGE);
      return;
    case -EBUSY:
      shmem_napi_throw_error(env, SHMEM_NAPI_E_INVALID_STATE,
                             "a reserve() or peek() is open on this channel");
      return;
    case -EINVAL:
      shmem_napi_throw_error(env, SHMEM_NAPI_E_INVALID_STATE,
                             "nothing is reserved or peeked on this channel");
      return;
    default:
      shmem_napi_throw_errno(env, r, "channel");
  }
}

/* ---- waiter threads ------------------------------------------------------------------------ */

void shmem_napi_channel_call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  channel_handle_t *h = (channel_handle_t *)context;
  intptr_t code = (intptr_t)data;
  if (env == NULL || js_cb == NULL) return;
  if (h->armed > 0 && --h->armed == 0 && h->tsfn != NULL) {
    napi_unref_threadsafe_function(env, h->tsfn);
  }
  napi_value argv[2], undefined;
  if (napi_create_int32(env, (int32_t)(code & 1), &argv[0]) != napi_ok) return;
  if (napi_create_int32(env, (int32_t)(code >> 1), &argv[1]) != napi_ok) return;
  if (napi_get_undefined(env, &undefined) != napi_ok) return;
  napi_call_function(env, undefined, js_cb, 2, argv, NULL);
}

static void *waiter_main(void *arg) {
  waiter_t *w = (waiter_t *)arg;
  for (;;) {
    pthread_mutex_lock(&w->mu);
    while (!w->requested && !w->quit) pthread_cond_wait(&w->cv, &w->mu);
    if (w->quit) {
      pthread_mutex_unlock(&w->mu);
      break;
    }
    w->requested = false;
    uint64_t n = w->n;
    int64_t deadline = w->deadline_ns;
    pthread_mutex_unlock(&w->mu);
    int r = w->which == 0 ? shmem_channel_wait_readable(&w->view, deadline, &w->cancel)
                          : shmem_channel_wait_writable(&w->view, n, deadline, &w->cancel);
    if (r > 0) r = 0;
    /* -r is small (ETIMEDOUT, ECANCELED): the result and which waiter fit in one word. */
    intptr_t code = ((intptr_t)(-r) << 1) | w->which;
    napi_call_threadsafe_function(w->owner->tsfn, (void *)code, napi_tsfn_nonblocking);
  }
  return NULL;
}

int shmem_napi_channel_waiter_start(channel_handle_t *h, int which) {
  waiter_t *w = &h->waiters[which];
  if (w->started) return 0;
  w->owner = h;
  w->which = which;
  int r = shmem_channel_attach(&w->view, h->ch.base, h->ch.byte_length);
  if (r < 0) return r;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  if (pthread_create(&w->thread, NULL, waiter_main, w) != 0) {
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    return -EAGAIN;
  }
  w->started = true;
  return 0;
}

static void waiters_stop(channel_handle_t *h) {
  for (int i = 0; i < 2; i++) {
    waiter_t *w = &h->waiters[i];
    if (!w->started) continue;
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    w->cancel = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    shmem_channel_interrupt(&h->ch);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    w->started = false;
  }
}

/* The segment under these channels was closed: their waiter threads stop waiting (each
 * reports ECANCELED, and the JS side then finds the segment closed and rejects what was
 * pending with ERR_SHMEM_CLOSED, where before a receiveAsync() with no timeout never
 * settled). Handles of other environments are left alone: seg is this env's. */
void shmem_napi_channels_cancel(napi_env env, segment_handle_t *seg) {
  pthread_mutex_lock(&table_mu);
  uint32_t end = next_id;
  pthread_mutex_unlock(&table_mu);
  for (uint32_t id = 0; id < end; id++) {
    channel_handle_t *h = shmem_napi_channel_find(env, id);
    if (h == NULL || h->seg != seg) continue;
    for (int i = 0; i < 2; i++) {
      if (h->waiters[i].started) h->waiters[i].cancel = 1;
    }
    shmem_channel_interrupt(&h->ch);
  }
}

/* Everything close() and the env cleanup hook share. */
void shmem_napi_channel_close_handle(channel_handle_t *h) {
  waiters_stop(h);
  if (h->tsfn != NULL) {
    napi_release_threadsafe_function(h->tsfn, napi_tsfn_abort);
    h->tsfn = NULL;
  }
  shmem_channel_detach(&h->ch);
  if (h->out_ref != NULL && h->env != NULL) napi_delete_reference(h->env, h->out_ref);
  h->out_ref = NULL;
  if (h->seg != NULL) shmem_napi_segment_unpin(h->seg);
  h->seg = NULL;
  shmem_napi_channel_free(h);
}

void shmem_napi_channel_cleanup_hook(void *arg) {
  channel_handle_t *h = (channel_handle_t *)arg;
  if (h->in_use) shmem_napi_channel_close_handle(h);
}
