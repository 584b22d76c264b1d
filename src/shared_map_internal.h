/* The shared map core's private parts, shared by src/shared_map.c (layout, attach and the
 * lock-free reads) and src/shared_map_write.c (the writer: set, delete, eviction, recovery).
 * The format: docs/map-format.md. */
#ifndef SHMEM_SHARED_MAP_INTERNAL_H
#define SHMEM_SHARED_MAP_INTERNAL_H

#include "internal.h"

#include <string.h>

/* Header fields (byte offsets). Line 0 is written once by init; line 1 holds the generation
 * every reader loads; line 2 is the writer's; lines 3 and 4 the counters, the readers' apart
 * from the writers'. Written once, as a list: each XX(name, offset) is the constant M_<name>. */
#define SHMEM__SHARED_MAP_HEADER_FIELDS(XX) \
  XX(MAGIC, 0)                               \
  XX(VERSION, 4)                             \
  XX(HEADER_SIZE, 8)                         \
  XX(EVICT, 12)                              \
  XX(BYTE_LENGTH, 16)                        \
  XX(CAPACITY, 24)                           \
  XX(SLOTS, 28)                              \
  XX(ENTRY_SIZE, 32)                         \
  XX(MAX_KEY, 36)                            \
  XX(MAX_VALUE, 40)                          \
  XX(ENCODING, 44)                           \
  XX(DEFAULT_TTL, 48)                        \
  XX(SEED, 56)                               \
  /* line 1: readers check it */             \
  XX(GENERATION, 64)                         \
  /* line 2: the writer's */                 \
  XX(LOCK, 128)                              \
  XX(LOCK_WAITERS, 136)                      \
  XX(FREE_HEAD, 140)                         \
  XX(LIVE, 144)                              \
  XX(TOMBSTONES, 148)                        \
  XX(HAND, 152)                              \
  XX(REBUILDING, 156)                        \
  XX(BYTES, 160)                             \
  /* line 3: the readers' counters */        \
  XX(HITS, 192)                              \
  XX(MISSES, 200)                            \
  /* line 4: the writers' counters */        \
  XX(EVICTIONS, 256)                         \
  XX(EXPIRATIONS, 264)                       \
  XX(RECOVERIES, 272)

/* Entry fields (byte offsets from the entry's start); the key follows at KEY, the value at
 * KEY + max_key_bytes. */
#define SHMEM__SHARED_MAP_ENTRY_FIELDS(XX) \
  XX(SEQ, 0)      /* u32: odd while being written */                         \
  XX(KEY_LEN, 4)  /* u32 */                                                  \
  XX(VALUE_LEN, 8) /* u32 */                                                 \
  XX(ACCESSED, 12) /* u32: set by readers, cleared by the CLOCK hand */      \
  XX(HASH, 16)    /* u64: the key's hash */                                  \
  XX(EXPIRES, 24) /* u64: ms since the epoch (CLOCK_REALTIME); 0: never */  \
  XX(NEXT_FREE, 32) /* u32: the writer's free list (entry + 1; 0: end) */   \
  XX(SLOT, 36)    /* u32: the index slot that holds it (the writer's) */     \
  XX(KEY_FLAGS, 40) /* u32 */                                                \
  XX(MARK, 44)    /* u32: the writer's marks while it rebuilds or repairs */ \
  XX(KEY, 48)

#define SHMEM__SHARED_MAP_FIELD(name, offset) M_##name = (offset),
#define SHMEM__SHARED_MAP_ENTRY_FIELD(name, offset) E_##name = (offset),
enum { SHMEM__SHARED_MAP_HEADER_FIELDS(SHMEM__SHARED_MAP_FIELD) };
enum { SHMEM__SHARED_MAP_ENTRY_FIELDS(SHMEM__SHARED_MAP_ENTRY_FIELD) };
#undef SHMEM__SHARED_MAP_FIELD
#undef SHMEM__SHARED_MAP_ENTRY_FIELD

_Static_assert(E_KEY == SHMEM_SHARED_MAP_ENTRY_HEADER, "the key follows the entry header");
_Static_assert(M_RECOVERIES + 8 <= SHMEM_SHARED_MAP_HEADER_SIZE, "the header holds its fields");

typedef struct entry_s {
  uint32_t seq, key_len, value_len, accessed;
  uint64_t hash, expires;
  uint32_t next_free, slot, key_flags, mark;
} entry_t;
_Static_assert(sizeof(entry_t) == SHMEM_SHARED_MAP_ENTRY_HEADER, "an entry header is 48 bytes");

/* An index slot is a 64-bit word: 0 empty; the entry's number + 1 in the low 32 bits and the
 * high 32 bits of the key's hash in the high ones; low 32 bits 0 and high ones not: a
 * tombstone (a removed key; probes go on past it). */
#define SLOT_EMPTY 0ull
#define SLOT_TOMB 0xffffffff00000000ull
#define NO_SLOT UINT32_MAX
#define MIN_SLOTS 16u
#define ENTRY_ALIGN 8u


static inline uint64_t *m64(const shmem_shared_map_t *m, size_t off) {
  return (uint64_t *)(void *)(m->base + off);
}
static inline uint32_t *m32(const shmem_shared_map_t *m, size_t off) {
  return (uint32_t *)(void *)(m->base + off);
}
/* Entry i (i < m->nentries: the caller checks). */
static inline entry_t *entry_at(const shmem_shared_map_t *m, uint32_t i) {
  return (entry_t *)(void *)(m->entries + (uint64_t)i * m->entry_size);
}
static inline unsigned char *key_of(entry_t *e) { return (unsigned char *)e + E_KEY; }
static inline unsigned char *value_of(const shmem_shared_map_t *m, entry_t *e) {
  return (unsigned char *)e + E_KEY + m->max_key_bytes;
}
static inline uint64_t slot_word(uint64_t hash, uint32_t entry) {
  return (hash >> 32) << 32 | (uint64_t)(entry + 1);
}

static inline void map_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* src/shared_map.c */
uint64_t shmem__shared_map_hash(uint64_t seed, const void *key, uint32_t len);
/* Milliseconds since the epoch (CLOCK_REALTIME), the clock of the entries' expiry. */
uint64_t shmem__shared_map_now_ms(void);
/* Adds the view's pending hit and miss counts to the header. */
void shmem__shared_map_flush(shmem_shared_map_t *m);

/* src/shared_map_write.c */
/* Takes the writer lock unless this view holds it: 1 when this call took it (release with
 * shmem__shared_map_end), 0 when held already, -ETIMEDOUT. Repairs the map when it took the
 * lock over from a dead writer. */
int shmem__shared_map_begin(shmem_shared_map_t *m);
void shmem__shared_map_end(shmem_shared_map_t *m, int took);
/* Rebuilds the writer's bookkeeping (free list, counts, back pointers) from the index, under
 * the lock (src/shared_map_write.c): after a dead writer, or when it is found inconsistent. */
void shmem__shared_map_repair(shmem_shared_map_t *m);

#endif
