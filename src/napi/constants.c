/* shmem.constants: the numbers of mmap(2), madvise(2), msync(2) and System V IPC, as this
 * platform defines them, plus the flags and kinds the JS layer shares with the core, and the
 * channel's layout (channelLayout), which lib/spsc.js and lib/channel.js read. */
#include <stddef.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>

#include "../channel_internal.h"
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

typedef struct named_s {
  const char *key;
  int64_t value;
} named_t;

#define COUNT(table) (sizeof(table) / sizeof((table)[0]))

/* Every name and number of table set on obj. */
static napi_status set_table(napi_env env, napi_value obj, const named_t *table, size_t n) {
  for (size_t i = 0; i < n; i++) SET_AS(obj, table[i].key, table[i].value);
  return napi_ok;
}

/* A new object under parent[key] holding table; frozen when asked. */
static napi_status table_object(napi_env env, napi_value parent, const char *key,
                                const named_t *table, size_t n, bool freeze) {
  napi_value obj;
  NAPI_TRY(napi_create_object(env, &obj));
  NAPI_TRY(set_table(env, obj, table, n));
  if (freeze) NAPI_TRY(napi_object_freeze(env, obj));
  return napi_set_named_property(env, parent, key, obj);
}

static const named_t flags[] = {
  {"READONLY", SHMEM_F_READONLY}, {"POPULATE", SHMEM_F_POPULATE},
  {"HUGETLB", SHMEM_F_HUGETLB},   {"LOCK", SHMEM_F_LOCK},
  {"LOCK_ONFAULT", SHMEM_F_LOCK_ONFAULT}, {"PRIVATE", SHMEM_F_PRIVATE},
  {"CREATE", SHMEM_F_CREATE},     {"SEAL", SHMEM_F_SEAL},
  {"SYNC_ASYNC", SHMEM_SYNC_ASYNC}, {"SYNC_INVALIDATE", SHMEM_SYNC_INVALIDATE},
};

static const named_t kinds[] = {
  {"posix", SHMEM_KIND_POSIX}, {"sysv", SHMEM_KIND_SYSV},
  {"memfd", SHMEM_KIND_MEMFD}, {"file", SHMEM_KIND_FILE},
};

/* The channel's shared-memory layout, handed to JavaScript as the kernel hands liburing the
 * ring's offsets: the header's fields (byte offsets, from the one list in
 * src/channel_internal.h), a record header's fields, the record states, the kinds, the sizes
 * and the limits of the capacity rule. lib/spsc.js moves messages on the ring with these
 * numbers and types none of them. */
static const named_t channel_numbers[] = {
  {"magic", SHMEM_CHANNEL_MAGIC},
  {"version", SHMEM_CHANNEL_VERSION},
  {"headerSize", SHMEM_CHANNEL_HEADER_SIZE},
  {"recordHeader", SHMEM_CHANNEL_RECORD_HEADER},
  {"align", SHMEM_CHANNEL_ALIGN},
  {"minCapacity", SHMEM_CHANNEL_MIN_CAPACITY},
  {"maxCapacity", SHMEM_CHANNEL_MAX_CAPACITY},
  {"maxMessageSize", SHMEM_CHANNEL_MAX_MESSAGE_SIZE},
};

#define NAMED(name, value) {#name, value},
static const named_t channel_header[] = {SHMEM__CHANNEL_HEADER_FIELDS(NAMED)};
static const named_t channel_states[] = {SHMEM__CHANNEL_RECORD_STATES(NAMED)};
#undef NAMED

static const named_t channel_record[] = {
  {"STATE", offsetof(record_t, state)},
  {"LENGTH", offsetof(record_t, length)},
  {"PID", offsetof(record_t, pid)},
  {"START", offsetof(record_t, start)},
};

static const named_t channel_kinds[] = {
  {"spsc", SHMEM_CHANNEL_SPSC}, {"mpsc", SHMEM_CHANNEL_MPSC}, {"mpmc", SHMEM_CHANNEL_MPMC},
};

/* channelWake(id, which): whom to wake. */
static const named_t channel_notify[] = {
  {"READERS", SHMEM_CHANNEL_NOTIFY_READERS},
  {"WRITERS", SHMEM_CHANNEL_NOTIFY_WRITERS},
};

/* Frozen: nothing in JavaScript can change what C wrote. */
static napi_status channel_layout(napi_env env, napi_value exports) {
  napi_value layout;
  NAPI_TRY(napi_create_object(env, &layout));
  NAPI_TRY(set_table(env, layout, channel_numbers, COUNT(channel_numbers)));
  NAPI_TRY(table_object(env, layout, "header", channel_header, COUNT(channel_header), true));
  NAPI_TRY(table_object(env, layout, "record", channel_record, COUNT(channel_record), true));
  NAPI_TRY(table_object(env, layout, "states", channel_states, COUNT(channel_states), true));
  NAPI_TRY(table_object(env, layout, "kinds", channel_kinds, COUNT(channel_kinds), true));
  NAPI_TRY(table_object(env, layout, "notify", channel_notify, COUNT(channel_notify), true));
  NAPI_TRY(napi_object_freeze(env, layout));
  return napi_set_named_property(env, exports, "channelLayout", layout);
}

napi_status shmem_napi_constants(napi_env env, napi_value exports) {
  napi_value c, v;
  NAPI_TRY(napi_create_object(env, &c));
  NAPI_TRY(system_constants(env, c));
  NAPI_TRY(napi_set_named_property(env, exports, "constants", c));
  NAPI_TRY(table_object(env, exports, "flags", flags, COUNT(flags), false));
  NAPI_TRY(table_object(env, exports, "kinds", kinds, COUNT(kinds), false));
  NAPI_TRY(channel_layout(env, exports));

  NAPI_TRY(napi_create_double(env, (double)shmem_page_size(), &v));
  NAPI_TRY(napi_set_named_property(env, exports, "pageSize", v));
  NAPI_TRY(napi_create_double(env, (double)shmem_huge_page_size(), &v));
  NAPI_TRY(napi_set_named_property(env, exports, "hugePageSize", v));
  return napi_ok;
}
