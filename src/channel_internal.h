/* The channel core's private parts, shared by src/channel.c (layout and the ring),
 * src/channel_lock.c (who we are, whether another process lives, robust locks) and
 * src/channel_wait.c (waiting and waking): the header's field offsets, the record layout,
 * and the small helpers every part uses. The format: docs/channel-format.md. */
#ifndef SHMEM_CHANNEL_INTERNAL_H
#define SHMEM_CHANNEL_INTERNAL_H

#include "internal.h"

#include <limits.h>

/* Header fields (byte offsets). Each group of hot fields has its own 64-byte line. Head and
 * tail are 32-bit byte counters that wrap: every distance between them is taken mod 2^32, and
 * a capacity of at most 2^30 keeps every distance far below that. 32 bits, so that JavaScript
 * can move them with Atomics on an Int32Array.
 *
 * Written once, as a list: each XX(name, offset) below is the constant H_<name> here, and the
 * binding hands the same list to JavaScript (shmem.channelLayout, src/napi/constants.c), which
 * reads every offset from it, as liburing's consumer reads the ring's from the kernel. */
#define SHMEM__CHANNEL_HEADER_FIELDS(XX) \
  XX(MAGIC, 0)                            \
  XX(VERSION, 4)                          \
  XX(HEADER_SIZE, 8)                      \
  XX(KIND, 12)                            \
  XX(CAPACITY, 16)                        \
  XX(MAX_MESSAGE, 24)                     \
  XX(BYTE_LENGTH, 32)                     \
  XX(RING_OFFSET, 40)                     \
  XX(ALIGN, 44)                           \
  XX(SENDERS, 48)                         \
  XX(RECEIVERS, 52)                       \
  /* line 1: the senders' */              \
  XX(TAIL, 64)                            \
  XX(MESSAGES_SENT, 72)                   \
  XX(BYTES_SENT, 80)                      \
  XX(SEND_LOCK, 88)                       \
  /* line 2: the receivers' */            \
  XX(HEAD, 128)                           \
  XX(MESSAGES_RECEIVED, 136)              \
  XX(BYTES_RECEIVED, 144)                 \
  XX(RECV_LOCK, 152)                      \
  XX(ABANDONED, 160)                      \
  /* line 3: receivers sleep here */      \
  XX(DATA_SEQ, 192)                       \
  XX(DATA_WAITERS, 196)                   \
  /* line 4: senders sleep here */        \
  XX(SPACE_SEQ, 256)                      \
  XX(SPACE_WAITERS, 260)

/* Record states. Anything else in a record's state word is corruption. */
#define SHMEM__CHANNEL_RECORD_STATES(XX)                                           \
  XX(RESERVED, 0x52)  /* 'R': being written (mpsc/mpmc only) */                   \
  XX(COMMITTED, 0x43) /* 'C': complete */                                         \
  XX(SKIP, 0x53)      /* 'S': padding; its length bytes are skipped */            \
  XX(ABORTED, 0x41)   /* 'A': given up by its sender, or its dead sender's */

#define SHMEM__CHANNEL_FIELD(name, offset) H_##name = (offset),
#define SHMEM__CHANNEL_STATE(name, value) REC_##name = (value),
enum { SHMEM__CHANNEL_HEADER_FIELDS(SHMEM__CHANNEL_FIELD) };
enum { SHMEM__CHANNEL_RECORD_STATES(SHMEM__CHANNEL_STATE) };
#undef SHMEM__CHANNEL_FIELD
#undef SHMEM__CHANNEL_STATE

#define HDR SHMEM_CHANNEL_RECORD_HEADER
#define NONE UINT64_MAX
#define SPIN_NS 4000                  /* spin (pause) at most this long, */
#define YIELD_NS 30000                /* then yield the CPU between checks this long, then sleep */
#define RECV_SLICE_NS 2000000         /* receivers re-check for dead senders this often */
#define SEND_SLICE_NS 10000000
#define STUCK_CHECK_NS 1000000        /* a RESERVED record this old gets a liveness check */
#define LOCK_TRY_NS 50000             /* a non-waiting call waits this long for a lock */
#define SWITCHED_NS 3000              /* a sched_yield() this long ran another thread */

typedef struct record_s {
  uint32_t state;
  uint32_t length;
  uint32_t pid;
  uint32_t start; /* low 32 bits of the reserver's start time (/proc/<pid>/stat field 22) */
} record_t;
_Static_assert(sizeof(record_t) == SHMEM_CHANNEL_RECORD_HEADER, "a record header is 16 bytes");

static inline uint64_t *f64(const shmem_channel_t *ch, size_t off) {
  return (uint64_t *)(void *)(ch->base + off);
}
static inline uint32_t *f32(const shmem_channel_t *ch, size_t off) {
  return (uint32_t *)(void *)(ch->base + off);
}
static inline record_t *rec_at(const shmem_channel_t *ch, uint64_t pos) {
  return (record_t *)(void *)(ch->ring + (pos & (ch->capacity - 1)));
}
static inline uint64_t rec_span(uint64_t len) {
  return shmem__align_up(HDR + len, SHMEM_CHANNEL_ALIGN);
}


/* head <= tail, at most a ring apart, both on record boundaries. */
static inline int span_ok(const shmem_channel_t *ch, uint32_t head, uint32_t tail) {
  return (uint32_t)(tail - head) <= ch->capacity && ((head | tail) & (SHMEM_CHANNEL_ALIGN - 1)) == 0;
}

/* Room for a record of span bytes at tail: the padding in front of it (to the ring's end when
 * it would not fit before it), or -1 when the ring is too full. */
static inline int64_t room_for(const shmem_channel_t *ch, uint32_t head, uint32_t tail,
                               uint64_t span) {
  uint64_t off = tail & (ch->capacity - 1);
  uint64_t pad = off + span > ch->capacity ? ch->capacity - off : 0;
  if ((uint32_t)(tail + pad + span - head) > ch->capacity) return -1;
  return (int64_t)pad;
}

/* Wakes the sleepers on a sequence word, but only when someone sleeps there: the waiters word
 * is a flag a sleeper sets before it checks its condition one last time. The first waker takes
 * the flag down (exchange) and makes the one system call; later publishers see it down and
 * make none, until a sleeper that still has to wait puts it up again. The fence pairs with
 * the sleeper's store of the flag: either we see the flag, or it sees what we published. */
static inline void wake(shmem_channel_t *ch, size_t seq_off, size_t waiters_off) {
  __atomic_thread_fence(SEQ);
  uint32_t *waiters = f32(ch, waiters_off);
  if (LOAD(waiters, RLX) == 0) return;
  if (__atomic_exchange_n(waiters, 0, SEQ) == 0) return;
  __atomic_fetch_add(f32(ch, seq_off), 1, SEQ);
  shmem_futex_wake(f32(ch, seq_off), INT_MAX);
}

/* src/channel_lock.c: identity, liveness and the robust locks, declared in internal.h (the
 * shared maps take the same lock word). */

/* src/channel.c */
/* 1 when the RESERVED record at pos has stayed so for a while and its sender is dead. */
int shmem__channel_reserved_dead(shmem_channel_t *ch, uint64_t pos, const record_t *rec);

#endif
