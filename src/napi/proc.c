/* Processes, for lib/proc.js: whether one still runs (shmem_liveness, the rule the locks and
 * channels use too) and when it started. */
#include "binding.h"

#include <stdio.h>

#define SAFE_INT 9007199254740991LL /* 2^53 - 1: past it a Number no longer holds every integer */

/* processLiveness(pid, start) -> true (alive), false (dead) or null (this process cannot
 * tell). start 0: any start. A pid no process can have is dead. */
static napi_value process_liveness(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int64_t pid;
  uint64_t start;
  if (!shmem_arg_i64(env, argv[0], "pid", -SAFE_INT, SAFE_INT, &pid)) return NULL;
  if (!shmem_arg_u64(env, argv[1], "start", (uint64_t)SAFE_INT, &start)) return NULL;
  shmem_liveness_t state = shmem_liveness(pid, start, 0);
  napi_value out;
  if (state == SHMEM_LIVENESS_UNKNOWN) {
    NAPI_CALL(env, napi_get_null(env, &out));
  } else {
    NAPI_CALL(env, napi_get_boolean(env, state == SHMEM_LIVENESS_ALIVE, &out));
  }
  return out;
}

/* processStartTime(pid) -> the start time of a live process (field 22 of /proc/<pid>/stat,
 * clock ticks after boot), or null when there is none (or its stat line is not one). */
static napi_value process_start_time(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int64_t pid;
  if (!shmem_arg_i64(env, argv[0], "pid", 1, INT32_MAX, &pid)) return NULL;
  uint64_t start = 0;
  int r = shmem_thread_start_time((int32_t)pid, &start);
  napi_value out;
  if (r == -ESRCH || r == -EIO) {
    NAPI_CALL(env, napi_get_null(env, &out));
    return out;
  }
  if (r < 0) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    shmem_err_t err = {r, "open"};
    shmem_napi_throw_core(env, &err, path);
    return NULL;
  }
  NAPI_CALL(env, napi_create_double(env, (double)start, &out));
  return out;
}

napi_status shmem_napi_proc_init(napi_env env, napi_value exports) {
  static const shmem_napi_export_t fns[] = {
      {"processLiveness", process_liveness},
      {"processStartTime", process_start_time},
  };
  return SHMEM_NAPI_EXPORT(env, exports, fns);
}
