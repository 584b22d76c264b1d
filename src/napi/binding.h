/* Declarations shared by the files of the Node-API layer. */
#ifndef SHMEM_NAPI_BINDING_H
#define SHMEM_NAPI_BINDING_H

#include <errno.h>

#include "util.h"

typedef struct segment_handle_s segment_handle_t;
typedef struct waiters_s waiters_t;

/* Per-environment state (main thread and each worker has its own). */
typedef struct instance_s {
  napi_ref scratch_ref; /* a Float64Array the binding writes small results into */
  double *scratch;
  size_t scratch_length;
  waiters_t *waiters;   /* the waiter threads of this environment (wait.c) */
} instance_t;

/* The scratch array of this environment, or NULL before init(). */
double *shmem_napi_scratch(napi_env env);

/* Handles: new, then the core fills the segment, then finish() turns the result into an
 * external for JS (or throws the error and frees the handle). */
segment_handle_t *shmem_napi_handle_new(void);
shmem_segment_t *shmem_napi_handle_segment(segment_handle_t *h);
napi_value shmem_napi_handle_finish(napi_env env, segment_handle_t *h, int r,
                                    const shmem_err_t *err, const char *path);
/* The handle's segment (throwing ERR_SHMEM_CLOSED when it is closed) and its path. */
shmem_segment_t *shmem_napi_segment(napi_env env, napi_value v, const char **path);
/* The handle in v (an external with our tag), else a TypeError; must_be_open: ERR_SHMEM_CLOSED
 * when it is closed. */
segment_handle_t *shmem_napi_handle(napi_env env, napi_value v, bool must_be_open);

/* A waiter thread starts or stops using the handle's mapping and fd. While any is busy,
 * close() detaches the ArrayBuffers at once but leaves the unmapping to the last idle(). */
void shmem_napi_handle_busy(segment_handle_t *h);
void shmem_napi_handle_idle(segment_handle_t *h);

/* wait.c: futex waits, file locks and thread identity for lib/lock.js and lib/wait.js. */
napi_status shmem_napi_wait_init(napi_env env, napi_value exports, instance_t *inst);
/* Tells every waiter thread on h to stop (close() calls it). */
void shmem_napi_cancel_waiters(napi_env env, segment_handle_t *h);
/* Cancels the waits of every channel of env on the segment seg (channel_handles.c). */
void shmem_napi_channels_cancel(napi_env env, segment_handle_t *seg);

napi_value shmem_napi_array_buffer(napi_env env, napi_callback_info info);
napi_value shmem_napi_shared_array_buffer(napi_env env, napi_callback_info info);
napi_value shmem_napi_close(napi_env env, napi_callback_info info);
napi_value shmem_napi_unlink(napi_env env, napi_callback_info info);
napi_value shmem_napi_segment_name(napi_env env, napi_callback_info info);

napi_status shmem_napi_constants(napi_env env, napi_value exports);

/* memory.c: madvise, msync, mincore, mlock, stat and the raw map() of a segment. */
napi_status shmem_napi_memory_init(napi_env env, napi_value exports);

/* proc.c: process liveness and start times for lib/proc.js. */
napi_status shmem_napi_proc_init(napi_env env, napi_value exports);

/* Channels (src/napi/channel.c). */
segment_handle_t *shmem_napi_handle(napi_env env, napi_value v, bool must_be_open);
segment_handle_t *shmem_napi_segment_pin(napi_env env, napi_value v);
void shmem_napi_segment_unpin(segment_handle_t *h);
bool shmem_napi_segment_is_closed(const segment_handle_t *h);
napi_status shmem_napi_channel_init(napi_env env, napi_value exports);

/* Shared maps (src/napi/shared_map.c). */
napi_status shmem_napi_shared_map_init(napi_env env, napi_value exports);

#endif
