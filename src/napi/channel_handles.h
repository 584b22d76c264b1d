/* The channel handles of the Node-API layer, shared by src/napi/channel.c (the functions JS
 * calls) and src/napi/channel_handles.c (the handle table and the waiter threads). */
#ifndef SHMEM_NAPI_CHANNEL_HANDLES_H
#define SHMEM_NAPI_CHANNEL_HANDLES_H

#include "binding.h"

#include <pthread.h>

#define OUT_SLOTS 12 /* Float64Array the binding writes results into */

typedef struct channel_handle_s channel_handle_t;

typedef struct waiter_s {
  channel_handle_t *owner;
  int which; /* 0: readable, 1: writable */
  pthread_t thread;
  bool started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool requested, quit;
  uint64_t n;
  int64_t deadline_ns;
  volatile int cancel;
  shmem_channel_t view;
} waiter_t;

struct channel_handle_s {
  napi_env env;
  uint32_t id;
  bool in_use;
  shmem_channel_t ch;
  segment_handle_t *seg;
  uint64_t region_offset; /* where the channel starts in the segment */
  double *out;
  napi_ref out_ref;
  napi_threadsafe_function tsfn;
  int armed; /* waits reported back to JS yet: the tsfn keeps the loop alive while > 0 */
  waiter_t waiters[2];
  channel_handle_t *next_free;
};

/* A new handle for env (in use, all else zero), or NULL when the table is full. */
channel_handle_t *shmem_napi_channel_alloc(napi_env env);
/* Puts a handle back (its id is reused; its memory never freed). */
void shmem_napi_channel_free(channel_handle_t *h);
/* The open handle with this id, made in this env, or NULL. */
channel_handle_t *shmem_napi_channel_find(napi_env env, uint32_t id);
/* The open handle with this id, made in this env; else throws and returns NULL. */
channel_handle_t *shmem_napi_channel_lookup(napi_env env, napi_value v);
/* Throws what a channel call's failure r means. */
void shmem_napi_channel_throw(napi_env env, int r);
/* The threadsafe function's call into JS: (which, result) to the channel's callback. */
void shmem_napi_channel_call_js(napi_env env, napi_value js_cb, void *context, void *data);
/* Starts the waiter thread for which (0 readable, 1 writable) unless it runs: 0 or -errno. */
int shmem_napi_channel_waiter_start(channel_handle_t *h, int which);
/* Stops the waiters, releases the tsfn and the segment, frees the handle (close() and the
 * env cleanup hook). */
void shmem_napi_channel_close_handle(channel_handle_t *h);
/* The env cleanup hook of an open handle. */
void shmem_napi_channel_cleanup_hook(void *arg);

#endif
