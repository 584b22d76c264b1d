/* Waits for JavaScript: futex waits on a word of a mapping, file locks, and thread identity.
 *
 * Sync calls block the calling thread (they are the ...Sync/wait/lock APIs, documented so).
 * Async calls run on a thread of their own (never libuv's pool: a lock that waits for minutes
 * would take a pool thread from fs and dns for that long) and report back through one
 * threadsafe function per environment. Each job holds the segment busy, so close() defers
 * the unmapping (and the fd's close) until the job's thread has left the memory. An env
 * cleanup hook stops and joins every thread, so nothing calls into JS during teardown. */
#include "binding.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* What a wait reports to JS. Negative values are -errno (file locks only). */
enum { WAIT_OK = 0, WAIT_NOT_EQUAL = 1, WAIT_TIMED_OUT = 2, WAIT_CANCELLED = 3 };

typedef enum { JOB_FUTEX = 1, JOB_FLOCK = 2 } job_kind_t;

typedef struct job_s {
  struct job_s *prev, *next;
  waiters_t *owner;
  segment_handle_t *h;   /* busy while the job runs; NULL once teardown released it */
  uint32_t id;
  job_kind_t kind;
  const uint32_t *addr;  /* JOB_FUTEX */
  uint32_t expected;
  int fd;                /* JOB_FLOCK */
  shmem_flock_mode_t mode;
  int64_t deadline;      /* shmem_now_ns() time, or -1 */
  volatile int cancel;   /* set by the loop thread; read by the job's thread */
  int result;
  int posted;            /* the thread queued its result on the threadsafe function */
  napi_ref callback;
  pthread_t thread;
} job_t;

struct waiters_s {
  napi_threadsafe_function tsfn;
  job_t *jobs;
  uint32_t next_id;
  uint32_t active;
};

/* The word at byte offset of the handle's mapping: in bounds and 4-byte aligned, else a
 * RangeError (the JS layer checks first; this is the second line). */
static uint32_t *arg_word(napi_env env, segment_handle_t *h, napi_value v) {
  shmem_segment_t *seg = shmem_napi_handle_segment(h);
  uint64_t offset;
  if (seg->size < 4) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_NO_WORD);
    return NULL;
  }
  if (!shmem_arg_u64(env, v, "offset", seg->size - 4, &offset)) return NULL;
  uintptr_t addr = (uintptr_t)seg->data + offset;
  if (addr % 4 != 0) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_ARG_UNALIGNED, (unsigned long long)offset);
    return NULL;
  }
  return (uint32_t *)addr;
}

static bool arg_flock_mode(napi_env env, napi_value v, shmem_flock_mode_t *mode) {
  int64_t m;
  if (!shmem_arg_i64(env, v, "mode", SHMEM_FLOCK_SHARED, SHMEM_FLOCK_EXCLUSIVE, &m)) return false;
  *mode = (shmem_flock_mode_t)m;
  return true;
}

static segment_handle_t *arg_fd_handle(napi_env env, napi_value v, int *fd) {
  segment_handle_t *h = shmem_napi_handle(env, v, true);
  if (h == NULL) return NULL;
  *fd = shmem_napi_handle_segment(h)->fd;
  if (*fd < 0) {
    shmem_napi_throw_error(env, SHMEM_NAPI_E_FLOCK_NO_FD);
    return NULL;
  }
  return h;
}

/* (handle, mode, timeoutMs) of the waiting file locks: the handle, its fd, the mode and the
 * deadline; NULL when an argument was wrong (thrown). */
static segment_handle_t *arg_flock(napi_env env, const napi_value *argv, int *fd,
                                   shmem_flock_mode_t *mode, int64_t *deadline) {
  segment_handle_t *h = arg_fd_handle(env, argv[0], fd);
  if (h == NULL || !arg_flock_mode(env, argv[1], mode)) return NULL;
  return shmem_arg_timeout(env, argv[2], "timeout", deadline) ? h : NULL;
}

/* (handle, offset, expected, timeoutMs) of the futex waits: the handle, the word and the
 * value it is expected to hold, and the deadline; NULL when an argument was wrong (thrown). */
static segment_handle_t *arg_futex(napi_env env, const napi_value *argv, const uint32_t **addr,
                                   uint32_t *expected, int64_t *deadline) {
  segment_handle_t *h = shmem_napi_handle(env, argv[0], true);
  if (h == NULL) return NULL;
  *addr = arg_word(env, h, argv[1]);
  int64_t e;
  if (*addr == NULL || !shmem_arg_i64(env, argv[2], "expected", INT32_MIN, UINT32_MAX, &e)) {
    return NULL;
  }
  *expected = (uint32_t)e;
  return shmem_arg_timeout(env, argv[3], "timeout", deadline) ? h : NULL;
}

/* The end of the calls that answer yes or no: true when r is 0, false when it is `no`; another
 * failure of syscall throws. */
static napi_value yes_or_no(napi_env env, int r, int no, const char *syscall) {
  if (r < 0 && r != no) {
    shmem_napi_throw_errno(env, r, syscall);
    return NULL;
  }
  napi_value out;
  NAPI_CALL(env, napi_get_boolean(env, r == 0, &out));
  return out;
}

static waiters_t *get_waiters(napi_env env) {
  instance_t *inst = NULL;
  if (napi_get_instance_data(env, (void **)&inst) != napi_ok || inst == NULL) return NULL;
  return inst->waiters;
}

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out = NULL;
  napi_create_int64(env, v, &out);
  return out;
}

/* Sleeps on *addr while it holds expected. Spins for spin_ns first: a peer that answers within
 * a few microseconds is caught without two system calls and a context switch each way. Not
 * while more tasks are runnable than CPUs online: then the spin only keeps the peer from one. */
static int futex_wait_spin(const uint32_t *addr, uint32_t expected, int64_t spin_ns,
                           int64_t deadline) {
  if (__atomic_load_n(addr, __ATOMIC_SEQ_CST) != expected) return WAIT_NOT_EQUAL;
  if (spin_ns > 0 && !shmem_cpus_crowded()) {
    int64_t until = shmem_now_ns() + spin_ns;
    if (deadline >= 0 && deadline < until) until = deadline;
    do {
      for (int i = 0; i < 32; i++) {
        if (__atomic_load_n(addr, __ATOMIC_SEQ_CST) != expected) return WAIT_OK;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
    } while (shmem_now_ns() < until);
  }
  for (;;) {
    int r = shmem_futex_wait(addr, expected, deadline);
    if (r == 0 || r == -EAGAIN) return WAIT_OK;
    if (r == -ETIMEDOUT) return WAIT_TIMED_OUT;
    if (r != -EINTR) return r;
  }
}

/* futexWait(handle, offset, expected, timeoutMs, spinNs) -> 0 ok | 1 not-equal | 2 timed-out */
static napi_value futex_wait(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  const uint32_t *addr;
  uint32_t expected;
  int64_t spin, deadline;
  if (arg_futex(env, argv, &addr, &expected, &deadline) == NULL) return NULL;
  if (!shmem_arg_i64(env, argv[4], "spinNs", 0, 1000000, &spin)) return NULL;
  int r = futex_wait_spin(addr, expected, spin, deadline);
  if (r < 0) {
    shmem_napi_throw_errno(env, r, "futex");
    return NULL;
  }
  return make_int(env, r);
}

/* futexWake(handle, offset, count) -> how many sleepers woke, in any process. */
static napi_value futex_wake(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  segment_handle_t *h = shmem_napi_handle(env, argv[0], true);
  if (h == NULL) return NULL;
  const uint32_t *addr = arg_word(env, h, argv[1]);
  if (addr == NULL) return NULL;
  int64_t count;
  if (!shmem_arg_i64(env, argv[2], "count", 0, INT_MAX, &count)) return NULL;
  int r = shmem_futex_wake(addr, (int)count);
  if (r < 0) {
    shmem_napi_throw_errno(env, r, "futex");
    return NULL;
  }
  return make_int(env, r);
}

static void *job_main(void *arg) {
  job_t *job = (job_t *)arg;
  int r;
  if (job->kind == JOB_FUTEX) {
    /* The cancel flag is read before every sleep, and every sleep ends within SLICE_NS: a
     * cancel that comes before the thread is asleep (its wake-up then finds nobody) is seen
     * at the next slice at the latest, so close() and teardown never wait for good. */
    const int64_t SLICE_NS = 50 * 1000 * 1000;
    for (;;) {
      if (__atomic_load_n(&job->cancel, __ATOMIC_ACQUIRE)) {
        r = WAIT_CANCELLED;
        break;
      }
      int64_t until = shmem_now_ns() + SLICE_NS;
      int last = job->deadline >= 0 && job->deadline <= until;
      r = shmem_futex_wait(job->addr, job->expected, last ? job->deadline : until);
      if (__atomic_load_n(&job->cancel, __ATOMIC_ACQUIRE)) {
        r = WAIT_CANCELLED;
        break;
      }
      if (r == 0 || r == -EAGAIN) {
        r = WAIT_OK;
        break;
      }
      if (r == -ETIMEDOUT) {
        if (!last) continue;
        r = WAIT_TIMED_OUT;
        break;
      }
      if (r != -EINTR) break;
    }
  } else {
    r = shmem_flock_until(job->fd, job->mode, job->deadline, &job->cancel);
    if (r == 0 && __atomic_load_n(&job->cancel, __ATOMIC_ACQUIRE)) {
      /* Cancelled as it succeeded: give the lock back, nobody will own it. */
      shmem_flock(job->fd, SHMEM_FLOCK_UNLOCK, 1);
      r = -ECANCELED;
    }
    if (r == -ETIMEDOUT) r = WAIT_TIMED_OUT;
    else if (r == -ECANCELED) r = WAIT_CANCELLED;
  }
  job->result = r;
  if (napi_call_threadsafe_function(job->owner->tsfn, job, napi_tsfn_nonblocking) == napi_ok) {
    __atomic_store_n(&job->posted, 1, __ATOMIC_RELEASE);
  }
  return NULL;
}

static void job_unlink(waiters_t *w, job_t *job) {
  if (job->prev != NULL) job->prev->next = job->next;
  else w->jobs = job->next;
  if (job->next != NULL) job->next->prev = job->prev;
  job->prev = job->next = NULL;
}

/* Runs on the loop thread with the job's result; env is NULL when the environment is gone
 * and the queue is being emptied (the cleanup hook has already released the job's ties). */
static void job_done(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  job_t *job = (job_t *)data;
  if (env == NULL) {
    free(job);
    return;
  }
  waiters_t *w = job->owner;
  pthread_join(job->thread, NULL);
  job_unlink(w, job);
  if (--w->active == 0) napi_unref_threadsafe_function(env, w->tsfn);
  napi_value result = NULL;
  if (job->result < 0) {
    shmem_napi_throw_errno(env, job->result, job->kind == JOB_FLOCK ? "flock" : "futex");
    napi_get_and_clear_last_exception(env, &result);
  } else {
    result = make_int(env, job->result);
  }
  segment_handle_t *h = job->h;
  napi_ref cb_ref = job->callback;
  free(job);
  if (h != NULL) shmem_napi_handle_idle(h);
  napi_value cb = NULL, global = NULL;
  if (napi_get_reference_value(env, cb_ref, &cb) == napi_ok && cb != NULL &&
      napi_get_global(env, &global) == napi_ok) {
    napi_call_function(env, global, cb, 1, &result, NULL);
  }
  napi_delete_reference(env, cb_ref);
}

/* A new job of kind that ends at deadline, or NULL with ENOMEM thrown. */
static job_t *job_new(napi_env env, job_kind_t kind, int64_t deadline) {
  job_t *job = calloc(1, sizeof(*job));
  if (job == NULL) {
    shmem_napi_throw_errno(env, -ENOMEM, "calloc");
    return NULL;
  }
  job->kind = kind;
  job->deadline = deadline;
  return job;
}

/* Starts a job's thread, which calls cb (a function) when it is done; returns the job's id
 * as a JS number, or NULL with an exception pending (the job freed). */
static napi_value job_start(napi_env env, job_t *job, segment_handle_t *h, napi_value cb) {
  waiters_t *w = get_waiters(env);
  if (w == NULL || w->tsfn == NULL) {
    free(job);
    shmem_napi_throw_error(env, SHMEM_NAPI_E_ENV_CLOSING);
    return NULL;
  }
  napi_status st = napi_create_reference(env, cb, 1, &job->callback);
  if (st != napi_ok) {
    free(job);
    shmem_napi_throw_status(env, st);
    return NULL;
  }
  job->owner = w;
  job->h = h;
  if (++w->next_id == 0) w->next_id = 1;
  job->id = w->next_id;
  shmem_napi_handle_busy(h);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int r = pthread_create(&job->thread, &attr, job_main, job);
  pthread_attr_destroy(&attr);
  if (r != 0) {
    shmem_napi_handle_idle(h);
    napi_delete_reference(env, job->callback);
    free(job);
    shmem_napi_throw_errno(env, -r, "pthread_create");
    return NULL;
  }
  job->next = w->jobs;
  if (w->jobs != NULL) w->jobs->prev = job;
  w->jobs = job;
  if (w->active++ == 0) napi_ref_threadsafe_function(env, w->tsfn);
  return make_int(env, job->id);
}

/* Wakes a job's thread so that it sees its cancel flag. A futex job is woken with every other
 * sleeper on that word, in any process: they see a spurious wake-up, which every waiter must
 * already handle (a FUTEX_WAKE cannot pick one sleeper). A file-lock job polls the flag. */
static void job_cancel(job_t *job) {
  __atomic_store_n(&job->cancel, 1, __ATOMIC_RELEASE);
  if (job->kind == JOB_FUTEX) shmem_futex_wake(job->addr, INT_MAX);
}

/* futexWaitAsync(handle, offset, expected, timeoutMs, callback) -> job id, or -1 when the word
 * does not hold expected (nothing started). callback(0 ok | 2 timed-out | 3 cancelled). */
static napi_value futex_wait_async(napi_env env, napi_callback_info info) {
  GET_ARGS(5);
  const uint32_t *addr;
  uint32_t expected;
  int64_t deadline;
  segment_handle_t *h = arg_futex(env, argv, &addr, &expected, &deadline);
  if (h == NULL || !shmem_arg_function(env, argv[4], "callback")) return NULL;
  if (__atomic_load_n(addr, __ATOMIC_SEQ_CST) != expected) return make_int(env, -1);
  job_t *job = job_new(env, JOB_FUTEX, deadline);
  if (job == NULL) return NULL;
  job->addr = addr;
  job->expected = expected;
  return job_start(env, job, h, argv[4]);
}

/* flockTry(handle, mode) -> true when taken, false when another description holds it. */
static napi_value flock_try(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int fd;
  shmem_flock_mode_t mode;
  segment_handle_t *h = arg_fd_handle(env, argv[0], &fd);
  if (h == NULL || !arg_flock_mode(env, argv[1], &mode)) return NULL;
  return yes_or_no(env, shmem_flock(fd, mode, 1), -EAGAIN, "flock");
}

/* flockWait(handle, mode, timeoutMs) -> true when taken, false when the time ran out. Without
 * a limit it blocks in flock(2) itself; with one it polls (shmem_flock_until). */
static napi_value flock_wait(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  int fd;
  shmem_flock_mode_t mode;
  int64_t deadline;
  if (arg_flock(env, argv, &fd, &mode, &deadline) == NULL) return NULL;
  int r = deadline < 0 ? shmem_flock(fd, mode, 0) : shmem_flock_until(fd, mode, deadline, NULL);
  return yes_or_no(env, r, -ETIMEDOUT, "flock");
}

/* flockAsync(handle, mode, timeoutMs, callback) -> job id; callback(0 | 2 | 3 | Error). */
static napi_value flock_async(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  int fd;
  shmem_flock_mode_t mode;
  int64_t deadline;
  segment_handle_t *h = arg_flock(env, argv, &fd, &mode, &deadline);
  if (h == NULL || !shmem_arg_function(env, argv[3], "callback")) return NULL;
  job_t *job = job_new(env, JOB_FLOCK, deadline);
  if (job == NULL) return NULL;
  job->fd = fd;
  job->mode = mode;
  return job_start(env, job, h, argv[3]);
}

/* flockRelease(handle): LOCK_UN. */
static napi_value flock_release(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int fd;
  segment_handle_t *h = arg_fd_handle(env, argv[0], &fd);
  if (h == NULL) return NULL;
  int r = shmem_flock(fd, SHMEM_FLOCK_UNLOCK, 1);
  if (r < 0) shmem_napi_throw_errno(env, r, "flock");
  return NULL;
}

/* cancelWait(id) -> true when the job was still running (its callback then gets 3, or its
 * result if it finished first). */
static napi_value cancel_wait(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int64_t id;
  if (!shmem_arg_i64(env, argv[0], "id", 0, UINT32_MAX, &id)) return NULL;
  waiters_t *w = get_waiters(env);
  bool found = false;
  for (job_t *job = w != NULL ? w->jobs : NULL; job != NULL; job = job->next) {
    if (job->id == (uint32_t)id) {
      job_cancel(job);
      found = true;
      break;
    }
  }
  napi_value out;
  NAPI_CALL(env, napi_get_boolean(env, found, &out));
  return out;
}

void shmem_napi_cancel_waiters(napi_env env, segment_handle_t *h) {
  waiters_t *w = get_waiters(env);
  for (job_t *job = w != NULL ? w->jobs : NULL; job != NULL; job = job->next) {
    if (job->h == h) job_cancel(job);
  }
  shmem_napi_channels_cancel(env, h);
}

/* threadSelf() -> [this thread's id, its start time (0 if unknown)]. Called once a thread. */
static napi_value thread_self(napi_env env, napi_callback_info info) {
  (void)info;
  int32_t tid = shmem_thread_id();
  uint64_t start = 0;
  if (shmem_thread_start_time(tid, &start) < 0) start = 0;
  napi_value out, v;
  NAPI_CALL(env, napi_create_array_with_length(env, 2, &out));
  NAPI_CALL(env, napi_create_int32(env, tid, &v));
  NAPI_CALL(env, napi_set_element(env, out, 0, v));
  NAPI_CALL(env, napi_create_double(env, (double)start, &v));
  NAPI_CALL(env, napi_set_element(env, out, 1, v));
  return out;
}

/* threadAlive(tid, start) -> false only when that thread is known to be gone. */
static napi_value thread_alive(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int64_t tid;
  uint64_t start;
  if (!shmem_arg_i64(env, argv[0], "tid", 1, INT32_MAX, &tid)) return NULL;
  if (!shmem_arg_u64(env, argv[1], "start", (uint64_t)1 << 53, &start)) return NULL;
  napi_value out;
  NAPI_CALL(env, napi_get_boolean(env, shmem_thread_alive((int32_t)tid, start) == 1, &out));
  return out;
}

/* Teardown: stop every thread, wait for it, and release what the jobs held. Results already
 * queued are freed by job_done with a NULL env when the threadsafe function is emptied. */
static void waiters_cleanup(void *arg) {
  instance_t *inst = (instance_t *)arg;
  waiters_t *w = inst->waiters;
  if (w == NULL) return;
  inst->waiters = NULL;
  for (job_t *job = w->jobs; job != NULL; job = job->next) job_cancel(job);
  job_t *job = w->jobs;
  while (job != NULL) {
    job_t *next = job->next;
    pthread_join(job->thread, NULL);
    if (job->h != NULL) shmem_napi_handle_idle(job->h);
    job->h = NULL;
    /* The callback reference goes with the environment. */
    if (!__atomic_load_n(&job->posted, __ATOMIC_ACQUIRE)) free(job);
    job = next;
  }
  w->jobs = NULL;
  if (w->tsfn != NULL) napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
  free(w);
}

napi_status shmem_napi_wait_init(napi_env env, napi_value exports, instance_t *inst) {
  static const shmem_napi_export_t fns[] = {
      {"futexWait", futex_wait},           {"futexWake", futex_wake},
      {"futexWaitAsync", futex_wait_async}, {"flockTry", flock_try},
      {"flockWait", flock_wait},           {"flockAsync", flock_async},
      {"flockRelease", flock_release},     {"cancelWait", cancel_wait},
      {"threadSelf", thread_self},         {"threadAlive", thread_alive},
  };
  NAPI_TRY(SHMEM_NAPI_EXPORT(env, exports, fns));
  waiters_t *w = calloc(1, sizeof(*w));
  if (w == NULL) return napi_generic_failure;
  napi_value name;
  NAPI_TRY(napi_create_string_utf8(env, "shmem waiter", NAPI_AUTO_LENGTH, &name));
  napi_status st = napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL,
                                                   job_done, &w->tsfn);
  if (st != napi_ok) {
    free(w);
    return st;
  }
  /* Only a running job keeps the event loop alive (job_start refs, job_done unrefs). */
  napi_unref_threadsafe_function(env, w->tsfn);
  inst->waiters = w;
  return napi_add_env_cleanup_hook(env, waiters_cleanup, inst);
}
