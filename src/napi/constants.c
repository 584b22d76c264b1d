/* shmem.constants: the numbers of mmap(2), madvise(2), msync(2) and System V IPC, as this
 * platform defines them, plus the flags and kinds the JS layer shares with the core. */
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>

#include "binding.h"

#define SET(obj, name)                                   \
  do {                                                   \
    napi_value v_;                                       \
    NAPI_TRY(napi_create_int64(env, (int64_t)(name), &v_)); \
    NAPI_TRY(napi_set_named_property(env, obj, #name, v_)); \
  } while (0)

#define SET_AS(obj, key, value)                          \
  do {                                                   \
    napi_value v_;                                       \
    NAPI_TRY(napi_create_int64(env, (int64_t)(value), &v_)); \
    NAPI_TRY(napi_set_named_property(env, obj, key, v_)); \
  } while (0)

static napi_status system_constants(napi_env env, napi_value c) {
  SET(c, PROT_NONE);
  SET(c, PROT_READ);
  SET(c, PROT_WRITE);
  SET(c, PROT_EXEC);
  SET(c, MAP_SHARED);
  SET(c, MAP_PRIVATE);
#ifdef MAP_SHARED_VALIDATE
  SET(c, MAP_SHARED_VALIDATE);
#endif
  SET(c, MAP_ANONYMOUS);
  SET_AS(c, "MAP_ANON", MAP_ANONYMOUS);
  SET(c, MAP_FIXED);
  SET(c, MAP_NORESERVE);
#ifdef MAP_POPULATE
  SET(c, MAP_POPULATE);
#endif
#ifdef MAP_HUGETLB
  SET(c, MAP_HUGETLB);
  SET(c, MAP_HUGE_SHIFT);
  SET(c, MAP_HUGE_MASK);
  SET_AS(c, "MAP_HUGE_2MB", 21 << MAP_HUGE_SHIFT);
  SET_AS(c, "MAP_HUGE_1GB", 30 << MAP_HUGE_SHIFT);
#endif
#ifdef MAP_LOCKED
  SET(c, MAP_LOCKED);
#endif
#ifdef MAP_NONBLOCK
  SET(c, MAP_NONBLOCK);
#endif
  SET(c, MADV_NORMAL);
  SET(c, MADV_RANDOM);
  SET(c, MADV_SEQUENTIAL);
  SET(c, MADV_WILLNEED);
  SET(c, MADV_DONTNEED);
#ifdef MADV_FREE
  SET(c, MADV_FREE);
#endif
#ifdef MADV_REMOVE
  SET(c, MADV_REMOVE);
#endif
#ifdef MADV_DONTFORK
  SET(c, MADV_DONTFORK);
  SET(c, MADV_DOFORK);
#endif
#ifdef MADV_MERGEABLE
  SET(c, MADV_MERGEABLE);
  SET(c, MADV_UNMERGEABLE);
#endif
#ifdef MADV_HUGEPAGE
  SET(c, MADV_HUGEPAGE);
  SET(c, MADV_NOHUGEPAGE);
#endif
#ifdef MADV_DONTDUMP
  SET(c, MADV_DONTDUMP);
  SET(c, MADV_DODUMP);
#endif
#ifdef MADV_WIPEONFORK
  SET(c, MADV_WIPEONFORK);
  SET(c, MADV_KEEPONFORK);
#endif
#ifdef MADV_COLD
  SET(c, MADV_COLD);
  SET(c, MADV_PAGEOUT);
#endif
#ifdef MADV_POPULATE_READ
  SET(c, MADV_POPULATE_READ);
  SET(c, MADV_POPULATE_WRITE);
#endif
#ifdef MADV_COLLAPSE
  SET(c, MADV_COLLAPSE);
#endif
  SET(c, MS_ASYNC);
  SET(c, MS_SYNC);
  SET(c, MS_INVALIDATE);
#ifdef MLOCK_ONFAULT
  SET(c, MLOCK_ONFAULT);
#endif
  SET(c, IPC_PRIVATE);
  SET(c, IPC_CREAT);
  SET(c, IPC_EXCL);
  SET(c, IPC_NOWAIT);
  SET(c, IPC_RMID);
  SET(c, IPC_SET);
  SET(c, IPC_STAT);
  SET(c, SHM_RDONLY);
#ifdef SHM_HUGETLB
  SET(c, SHM_HUGETLB);
#endif
  return napi_ok;
}

napi_status shmem_napi_constants(napi_env env, napi_value exports) {
  napi_value c, flags, kinds, v;
  NAPI_TRY(napi_create_object(env, &c));
  NAPI_TRY(system_constants(env, c));
  NAPI_TRY(napi_set_named_property(env, exports, "constants", c));

  NAPI_TRY(napi_create_object(env, &flags));
  SET_AS(flags, "READONLY", SHMEM_F_READONLY);
  SET_AS(flags, "POPULATE", SHMEM_F_POPULATE);
  SET_AS(flags, "HUGETLB", SHMEM_F_HUGETLB);
  SET_AS(flags, "LOCK", SHMEM_F_LOCK);
  SET_AS(flags, "LOCK_ONFAULT", SHMEM_F_LOCK_ONFAULT);
  SET_AS(flags, "PRIVATE", SHMEM_F_PRIVATE);
  SET_AS(flags, "CREATE", SHMEM_F_CREATE);
  SET_AS(flags, "SEAL", SHMEM_F_SEAL);
  SET_AS(flags, "SYNC_ASYNC", SHMEM_SYNC_ASYNC);
  SET_AS(flags, "SYNC_INVALIDATE", SHMEM_SYNC_INVALIDATE);
  NAPI_TRY(napi_set_named_property(env, exports, "flags", flags));

  NAPI_TRY(napi_create_object(env, &kinds));
  SET_AS(kinds, "posix", SHMEM_KIND_POSIX);
  SET_AS(kinds, "sysv", SHMEM_KIND_SYSV);
  SET_AS(kinds, "memfd", SHMEM_KIND_MEMFD);
  SET_AS(kinds, "file", SHMEM_KIND_FILE);
  NAPI_TRY(napi_set_named_property(env, exports, "kinds", kinds));

  NAPI_TRY(napi_create_double(env, (double)shmem_page_size(), &v));
  NAPI_TRY(napi_set_named_property(env, exports, "pageSize", v));
  NAPI_TRY(napi_create_double(env, (double)shmem_huge_page_size(), &v));
  NAPI_TRY(napi_set_named_property(env, exports, "hugePageSize", v));
  return napi_ok;
}
