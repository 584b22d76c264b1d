/* Channels: a ring of length-prefixed records in shared memory (docs/channel-format.md).
 *
 * Positions (head, tail) are byte counters that only grow; a position's place in the ring is
 * pos & (capacity - 1). Senders own the tail, receivers the head, each on its own cache line.
 * spsc publishes a record by moving the tail after the record is complete, so a receiver never
 * sees a half-written one. mpsc/mpmc reserve under a short robust lock (the holder's pid and
 * start time in one 64-bit lock word), publish the record as RESERVED with the reserver's pid and start time, write
 * it outside the lock and flip it to COMMITTED; a receiver that finds a RESERVED record whose
 * reserver is dead skips it. Every value read from the shared memory is checked before it is
 * used to address anything: garbage gives SHMEM_EBADSTATE. */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Header fields (byte offsets). Each group of hot fields has its own 64-byte line. Head and
 * tail are 32-bit byte counters that wrap: every distance between them is taken mod 2^32, and
 * a capacity of at most 2^30 keeps every distance far below that. 32 bits, so that JavaScript
 * can move them with Atomics on an Int32Array. */
#define H_MAGIC 0
#define H_VERSION 4
#define H_HEADER_SIZE 8
#define H_KIND 12
#define H_CAPACITY 16
#define H_MAX_MESSAGE 24
#define H_BYTE_LENGTH 32
#define H_RING_OFFSET 40
#define H_ALIGN 44
#define H_SENDERS 48
#define H_RECEIVERS 52
/* line 1: the senders' */
#define H_TAIL 64
#define H_MESSAGES_SENT 72
#define H_BYTES_SENT 80
#define H_SEND_LOCK 88
/* line 2: the receivers' */
#define H_HEAD 128
#define H_MESSAGES_RECEIVED 136
#define H_BYTES_RECEIVED 144
#define H_RECV_LOCK 152
#define H_ABANDONED 160
/* line 3: receivers sleep here; line 4: senders sleep here */
#define H_DATA_SEQ 192
#define H_DATA_WAITERS 196
#define H_SPACE_SEQ 256
#define H_SPACE_WAITERS 260

/* Record states. Anything else in a record's state word is corruption. */
#define REC_RESERVED 0x52u  /* 'R': being written (mpsc/mpmc only) */
#define REC_COMMITTED 0x43u /* 'C': complete */
#define REC_SKIP 0x53u      /* 'S': padding; its length bytes are skipped */
#define REC_ABORTED 0x41u   /* 'A': given up by its sender, or its dead sender's */

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

#define LOAD(p, mo) __atomic_load_n((p), (mo))
#define STORE(p, v, mo) __atomic_store_n((p), (v), (mo))
#define ACQ __ATOMIC_ACQUIRE
#define REL __ATOMIC_RELEASE
#define RLX __ATOMIC_RELAXED
#define SEQ __ATOMIC_SEQ_CST

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* ---- who we are, and whether another process still lives ------------------------------- */

static uint64_t self_identity; /* pid << 32 | start; 0 until known, reset in a forked child */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void reset_identity(void) { STORE(&self_identity, 0, RLX); }
static void register_atfork(void) { pthread_atfork(NULL, NULL, reset_identity); }

static void identity(uint32_t *pid, uint32_t *start) {
  uint64_t id = LOAD(&self_identity, RLX);
  if (id == 0) {
    pthread_once(&atfork_once, register_atfork);
    uint32_t p = (uint32_t)getpid();
    uint64_t s = 0;
    int ended = 0;
    if (shmem__proc_stat((int32_t)p, &s, &ended) < 0) s = 0;
    id = (uint64_t)p << 32 | (uint32_t)s;
    STORE(&self_identity, id, RLX);
  }
  *pid = (uint32_t)(id >> 32);
  *start = (uint32_t)id;
}

/* 1 when the process (pid, start) is gone: no such pid, a zombie (killed, not yet reaped: it
 * will never write again, though kill(pid, 0) still succeeds), or, with check_start, a pid
 * that now names a process started at another time (the pid was reused). A pid that cannot be
 * a process is dead too. Where /proc does not show the pid (not mounted, or hidden from us by
 * hidepid) or cannot be read, only kill(pid, 0) decides: a live process is never called dead
 * on a guess. */
static int process_dead(uint32_t pid, uint32_t start, int check_start) {
  if (pid == 0 || pid > (uint32_t)INT_MAX) return 1;
  uint32_t me, my_start;
  identity(&me, &my_start);
  if (pid == me) return check_start && start != my_start;
  if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) return 1;
  uint64_t now_start = 0;
  int ended = 0;
  int r = shmem__proc_stat((int32_t)pid, &now_start, &ended);
  if (r == 0) return ended || (check_start && (uint32_t)now_start != start);
  if (r == -ESRCH) return 1; /* it went away while we read */
  if (r == -ENOENT) return kill((pid_t)pid, 0) < 0 && errno == ESRCH; /* gone since? */
  return 0;
}

/* ---- robust spin locks (held for a few instructions, or for a peek on mpmc) ------------- */

/* A lock is one 64-bit word: the holder's pid in the low 32 bits, its start time (as records
 * carry it; 0 where the holder could not read /proc) in the high 32 bits, 0 when free. One
 * word, so that every load and every compare-and-swap sees a pid together with its own start
 * time: a dead holder whose pid a living process took is told apart from that process, and
 * a takeover swaps from exactly the dead holder's word, never from a live one that took the
 * lock meanwhile. With start time 0 only the pid is checked. */
_Static_assert(H_SEND_LOCK % 8 == 0 && H_RECV_LOCK % 8 == 0, "lock words are 8-byte aligned");

static inline uint64_t lock_word(uint32_t pid, uint32_t start) {
  return (uint64_t)start << 32 | pid;
}

static int lock_dead(uint64_t held) {
  uint32_t start = (uint32_t)(held >> 32);
  return process_dead((uint32_t)held, start, start != 0);
}

/* 0, or -EAGAIN when timeout_ns (< 0: none) passes with the lock held by a live process. The
 * clock is read only once the lock turned out to be busy. */
static int lock_acquire(uint64_t *word, int64_t timeout_ns) {
  uint32_t me, start;
  identity(&me, &start);
  const uint64_t mine = lock_word(me, start);
  int64_t deadline_ns = -1;
  for (unsigned i = 0;; i++) {
    uint64_t expected = 0;
    if (__atomic_compare_exchange_n(word, &expected, mine, 0, ACQ, RLX)) return 0;
    if (i < 64) {
      cpu_relax();
      continue;
    }
    if (i == 64 && timeout_ns >= 0) deadline_ns = shmem_now_ns() + timeout_ns;
    if ((i & 63) == 0) {
      /* The holder may have died holding it: take it over from a dead one. (Our own word is
       * another thread of this process, alive; our pid with another start time is not us.) */
      if (expected != 0 && expected != mine && lock_dead(expected) &&
          __atomic_compare_exchange_n(word, &expected, mine, 0, ACQ, RLX)) {
        return 0;
      }
      if (deadline_ns >= 0 && shmem_now_ns() >= deadline_ns) return -EAGAIN;
    }
    sched_yield();
  }
}

static void lock_release(uint64_t *word) { STORE(word, 0, REL); }

/* Wakes the sleepers on a sequence word, but only when someone sleeps there: the waiters word
 * is a flag a sleeper sets before it checks its condition one last time. The first waker takes
 * the flag down (exchange) and makes the one system call; later publishers see it down and
 * make none, until a sleeper that still has to wait puts it up again. The fence pairs with
 * the sleeper's store of the flag: either we see the flag, or it sees what we published. */
static void wake(shmem_channel_t *ch, size_t seq_off, size_t waiters_off) {
  __atomic_thread_fence(SEQ);
  uint32_t *waiters = f32(ch, waiters_off);
  if (LOAD(waiters, RLX) == 0) return;
  if (__atomic_exchange_n(waiters, 0, SEQ) == 0) return;
  __atomic_fetch_add(f32(ch, seq_off), 1, SEQ);
  shmem_futex_wake(f32(ch, seq_off), INT_MAX);
}

/* ---- layout -------------------------------------------------------------------------------- */

static int resolve_options(const shmem_channel_options_t *opts, uint64_t *cap, uint64_t *max) {
  if (opts == NULL) return -EINVAL;
  if (opts->kind != SHMEM_CHANNEL_SPSC && opts->kind != SHMEM_CHANNEL_MPSC &&
      opts->kind != SHMEM_CHANNEL_MPMC) {
    return -EINVAL;
  }
  if (opts->capacity == 0 || opts->capacity > SHMEM_CHANNEL_MAX_CAPACITY) return -ERANGE;
  uint64_t c = SHMEM_CHANNEL_MIN_CAPACITY;
  while (c < opts->capacity) c <<= 1;
  /* A record may take half the ring, so one always fits after the padding a wrap needs. */
  uint64_t limit = c / 2 - HDR;
  uint64_t m = opts->max_message_size == 0 ? limit : opts->max_message_size;
  if (m > limit || m > UINT32_MAX - 64) return -ERANGE;
  *cap = c;
  *max = m;
  return 0;
}

int shmem_channel_byte_length(const shmem_channel_options_t *opts, uint64_t *out) {
  uint64_t cap, max;
  int r = resolve_options(opts, &cap, &max);
  if (r < 0) return r;
  *out = SHMEM_CHANNEL_HEADER_SIZE + cap;
  return 0;
}

static void view_reset(shmem_channel_t *ch) {
  ch->is_sender = ch->is_receiver = 0;
  ch->reserve_pos = ch->peek_pos = ch->stuck_pos = NONE;
  ch->reserve_len = ch->peek_next = ch->peek_len = 0;
  ch->reserve_published = ch->peek_locked = ch->stuck_dead = 0;
  ch->stuck_since_ns = 0;
  ch->lock_seen_holder = 0;
  ch->lock_seen_ns = 0;
  ch->cache_valid = 0;
  ch->spin_ns = -1;
}

int shmem_channel_init(shmem_channel_t *ch, void *mem, uint64_t size,
                       const shmem_channel_options_t *opts) {
  uint64_t cap, max;
  int r = resolve_options(opts, &cap, &max);
  if (r < 0) return r;
  if (mem == NULL || ((uintptr_t)mem & 63) != 0) return -EINVAL;
  if (size < SHMEM_CHANNEL_HEADER_SIZE + cap) return -ERANGE;
  unsigned char *base = mem;
  /* Whoever attaches waits for the magic, which goes in last. */
  STORE((uint32_t *)(void *)base, 0, SEQ);
  memset(base + 4, 0, SHMEM_CHANNEL_HEADER_SIZE - 4);
  uint32_t *w = (uint32_t *)(void *)base;
  uint64_t *d = (uint64_t *)(void *)base;
  w[H_VERSION / 4] = SHMEM_CHANNEL_VERSION;
  w[H_HEADER_SIZE / 4] = SHMEM_CHANNEL_HEADER_SIZE;
  w[H_KIND / 4] = (uint32_t)opts->kind;
  d[H_CAPACITY / 8] = cap;
  d[H_MAX_MESSAGE / 8] = max;
  d[H_BYTE_LENGTH / 8] = SHMEM_CHANNEL_HEADER_SIZE + cap;
  w[H_RING_OFFSET / 4] = SHMEM_CHANNEL_HEADER_SIZE;
  w[H_ALIGN / 4] = SHMEM_CHANNEL_ALIGN;
  STORE(&w[H_MAGIC / 4], SHMEM_CHANNEL_MAGIC, REL);
  return shmem_channel_attach(ch, mem, size);
}

int shmem_channel_attach(shmem_channel_t *ch, void *mem, uint64_t size) {
  memset(ch, 0, sizeof(*ch));
  view_reset(ch);
  if (mem == NULL || ((uintptr_t)mem & 63) != 0) return -EINVAL;
  if (size < SHMEM_CHANNEL_HEADER_SIZE) return SHMEM_EBADSTATE;
  unsigned char *base = mem;
  const uint32_t *w = (const uint32_t *)(const void *)base;
  const uint64_t *d = (const uint64_t *)(const void *)base;
  if (LOAD(&w[H_MAGIC / 4], ACQ) != SHMEM_CHANNEL_MAGIC) return SHMEM_EBADSTATE;
  uint32_t version = LOAD(&w[H_VERSION / 4], RLX);
  uint32_t header = LOAD(&w[H_HEADER_SIZE / 4], RLX);
  uint32_t kind = LOAD(&w[H_KIND / 4], RLX);
  uint64_t cap = LOAD(&d[H_CAPACITY / 8], RLX);
  uint64_t max = LOAD(&d[H_MAX_MESSAGE / 8], RLX);
  uint64_t length = LOAD(&d[H_BYTE_LENGTH / 8], RLX);
  uint32_t ring = LOAD(&w[H_RING_OFFSET / 4], RLX);
  uint32_t align = LOAD(&w[H_ALIGN / 4], RLX);
  if (version != SHMEM_CHANNEL_VERSION || header != SHMEM_CHANNEL_HEADER_SIZE ||
      ring != SHMEM_CHANNEL_HEADER_SIZE || align != SHMEM_CHANNEL_ALIGN) {
    return SHMEM_EBADSTATE;
  }
  if (kind < SHMEM_CHANNEL_SPSC || kind > SHMEM_CHANNEL_MPMC) return SHMEM_EBADSTATE;
  if (cap < SHMEM_CHANNEL_MIN_CAPACITY || cap > SHMEM_CHANNEL_MAX_CAPACITY ||
      (cap & (cap - 1)) != 0) {
    return SHMEM_EBADSTATE;
  }
  if (max == 0 || max > cap / 2 - HDR) return SHMEM_EBADSTATE;
  if (length != SHMEM_CHANNEL_HEADER_SIZE + cap || length > size) return SHMEM_EBADSTATE;
  /* From here on these come from our copy: a peer rewriting them later changes nothing. */
  ch->capacity = cap;
  ch->max_message_size = max;
  ch->kind = (shmem_channel_kind_t)kind;
  ch->byte_length = length;
  ch->base = base;
  ch->ring = base + SHMEM_CHANNEL_HEADER_SIZE;
  return 0;
}

static void recv_unlock(shmem_channel_t *ch);

static void count_down(uint32_t *word) {
  uint32_t v = LOAD(word, RLX);
  while (v > 0 && !__atomic_compare_exchange_n(word, &v, v - 1, 0, RLX, RLX)) {
  }
}

void shmem_channel_detach(shmem_channel_t *ch) {
  if (ch->base == NULL) return;
  if (ch->reserve_pos != NONE) shmem_channel_abort(ch);
  /* The message stays for the next receive: a peek without release consumes nothing. */
  if (ch->peek_pos != NONE) shmem_channel_unpeek(ch);
  if (ch->is_sender) count_down(f32(ch, H_SENDERS));
  if (ch->is_receiver) count_down(f32(ch, H_RECEIVERS));
  ch->base = ch->ring = NULL;
  view_reset(ch);
}

/* ---- the ring ------------------------------------------------------------------------------ */

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

static void register_sender(shmem_channel_t *ch) {
  if (ch->is_sender) return;
  ch->is_sender = 1;
  __atomic_fetch_add(f32(ch, H_SENDERS), 1, RLX);
}

static void register_receiver(shmem_channel_t *ch) {
  if (ch->is_receiver) return;
  ch->is_receiver = 1;
  __atomic_fetch_add(f32(ch, H_RECEIVERS), 1, RLX);
}

/* Makes a reservation of n bytes: 0, -EAGAIN (no room or the send lock is busy), BADSTATE. */
static int reserve_now(shmem_channel_t *ch, uint64_t n) {
  uint64_t span = rec_span(n);
  int multi = ch->kind != SHMEM_CHANNEL_SPSC;
  uint64_t *lock = f64(ch, H_SEND_LOCK);
  if (multi && lock_acquire(lock, LOCK_TRY_NS) < 0) return -EAGAIN;
  uint32_t tail = LOAD(f32(ch, H_TAIL), ACQ);
  /* The head as we last read it: it only moves forward, so an old value only understates the
   * room, and reading the receivers' cache line once per ring's worth of messages instead of
   * once per message is most of what makes a send cheap. That holds while the tail moved less
   * than 2^32 since: true on spsc, where this view is the only sender and never sends past
   * the cached head plus a ring; not on mpsc/mpmc, where other senders may have moved the
   * tail by any amount (then a stale head could look like room), so those read it each time. */
  uint32_t head = ch->cached_head;
  if (multi || !(ch->cache_valid & 1) || !span_ok(ch, head, tail) ||
      room_for(ch, head, tail, span) < 0) {
    head = LOAD(f32(ch, H_HEAD), ACQ);
    ch->cached_head = head;
    ch->cache_valid |= 1;
  }
  int r = 0;
  if (!span_ok(ch, head, tail)) {
    r = SHMEM_EBADSTATE;
  } else {
    int64_t pad = room_for(ch, head, tail, span);
    if (pad < 0) {
      r = -EAGAIN;
    } else {
      if (pad > 0) {
        record_t *skip = rec_at(ch, tail);
        skip->length = (uint32_t)(pad - HDR);
        skip->pid = skip->start = 0;
        STORE(&skip->state, REC_SKIP, REL);
      }
      uint32_t pos = (uint32_t)(tail + (uint64_t)pad);
      record_t *rec = rec_at(ch, pos);
      uint32_t pid, start;
      identity(&pid, &start);
      STORE(&rec->length, (uint32_t)n, RLX);
      rec->pid = pid;
      rec->start = start;
      STORE(&rec->state, REC_RESERVED, REL);
      ch->reserve_pos = pos;
      ch->reserve_len = n;
      ch->reserve_published = multi;
      /* spsc publishes at commit; the others publish the reservation now, under the lock. */
      if (multi) STORE(f32(ch, H_TAIL), (uint32_t)(pos + span), REL);
    }
  }
  if (multi) lock_release(lock);
  if (r == 0) register_sender(ch);
  return r;
}

static int commit_now(shmem_channel_t *ch, uint64_t len) {
  uint64_t pos = ch->reserve_pos;
  record_t *rec = rec_at(ch, pos);
  if (ch->kind == SHMEM_CHANNEL_SPSC) {
    STORE(&rec->length, (uint32_t)len, RLX);
    STORE(&rec->state, REC_COMMITTED, RLX);
    uint64_t *sent = f64(ch, H_MESSAGES_SENT), *bytes = f64(ch, H_BYTES_SENT);
    STORE(sent, LOAD(sent, RLX) + 1, RLX);
    STORE(bytes, LOAD(bytes, RLX) + len, RLX);
    STORE(f32(ch, H_TAIL), (uint32_t)(pos + rec_span(len)), REL);
  } else {
    /* The record keeps its reserved span (the tail is past it); what a shorter message does
     * not use becomes a skip record first. */
    uint64_t used = rec_span(len), span = rec_span(ch->reserve_len);
    if (used < span) {
      record_t *skip = rec_at(ch, pos + used);
      skip->length = (uint32_t)(span - used - HDR);
      skip->pid = skip->start = 0;
      STORE(&skip->state, REC_SKIP, RLX);
    }
    STORE(&rec->length, (uint32_t)len, RLX);
    __atomic_fetch_add(f64(ch, H_MESSAGES_SENT), 1, RLX);
    __atomic_fetch_add(f64(ch, H_BYTES_SENT), len, RLX);
    uint32_t expected = REC_RESERVED;
    /* A receiver may have judged us dead (a reused pid) and aborted the record: then the
     * message is lost rather than delivered torn. */
    if (!__atomic_compare_exchange_n(&rec->state, &expected, REC_COMMITTED, 0, REL, RLX)) {
      ch->reserve_pos = NONE;
      return SHMEM_EBADSTATE;
    }
  }
  ch->reserve_pos = NONE;
  wake(ch, H_DATA_SEQ, H_DATA_WAITERS);
  return 0;
}

int shmem_channel_reserve(shmem_channel_t *ch, uint64_t n, void **data) {
  if (ch->base == NULL) return -EINVAL;
  if (ch->reserve_pos != NONE) return -EBUSY;
  if (n > ch->max_message_size) return -EMSGSIZE;
  int r = reserve_now(ch, n);
  if (r < 0) return r;
  *data = (unsigned char *)rec_at(ch, ch->reserve_pos) + HDR;
  return 0;
}

int shmem_channel_commit(shmem_channel_t *ch, uint64_t len) {
  if (ch->base == NULL || ch->reserve_pos == NONE) return -EINVAL;
  if (len > ch->reserve_len) return -EMSGSIZE;
  return commit_now(ch, len);
}

int shmem_channel_abort(shmem_channel_t *ch) {
  if (ch->base == NULL || ch->reserve_pos == NONE) return -EINVAL;
  if (ch->reserve_published) {
    uint32_t expected = REC_RESERVED;
    __atomic_compare_exchange_n(&rec_at(ch, ch->reserve_pos)->state, &expected, REC_ABORTED, 0,
                                REL, RLX);
    wake(ch, H_DATA_SEQ, H_DATA_WAITERS);
  }
  ch->reserve_pos = NONE;
  return 0;
}

int shmem_channel_send(shmem_channel_t *ch, const void *data, uint64_t len) {
  void *dst;
  int r = shmem_channel_reserve(ch, len, &dst);
  if (r < 0) return r;
  if (len > 0) memcpy(dst, data, len);
  return commit_now(ch, len);
}

/* Is the RESERVED record at pos abandoned? Checks liveness at most once per STUCK_CHECK_NS
 * for the same record, so a receiver polling a slow, live sender does not make a system call
 * per poll. */
static int reserved_dead(shmem_channel_t *ch, uint64_t pos, const record_t *rec) {
  if (ch->stuck_pos != pos) {
    ch->stuck_pos = pos;
    ch->stuck_since_ns = shmem_now_ns();
    ch->stuck_dead = 0;
    return 0;
  }
  if (ch->stuck_dead) return 1;
  int64_t now = shmem_now_ns();
  if (now - ch->stuck_since_ns < STUCK_CHECK_NS) return 0;
  ch->stuck_since_ns = now;
  uint32_t start = LOAD(&rec->start, RLX); /* 0: its sender could not read /proc */
  ch->stuck_dead = process_dead(LOAD(&rec->pid, RLX), start, start != 0);
  return ch->stuck_dead;
}

/* Finds the committed record at the head, skipping padding, aborted records and records of
 * dead senders (the caller is the receiver, or holds the receive lock). 0 with *pos and *len,
 * -EAGAIN when there is none yet, BADSTATE. *moved tells whether the head moved. */
static int head_record(shmem_channel_t *ch, uint64_t *pos, uint64_t *len, int *moved) {
  uint32_t *headp = f32(ch, H_HEAD);
  for (;;) {
    uint32_t head = LOAD(headp, ACQ);
    /* The tail as we last read it (with acquire): the records before it are published. Read
     * the senders' line again only when we have caught up with it. Only the single receiver
     * (spsc, mpsc) may cache it: on mpmc other receivers move the head by any amount, after
     * which a stale tail could look ahead of it. */
    uint32_t tail = ch->cached_tail;
    if (ch->kind == SHMEM_CHANNEL_MPMC || !(ch->cache_valid & 2) || head == tail ||
        !span_ok(ch, head, tail)) {
      tail = LOAD(f32(ch, H_TAIL), ACQ);
      ch->cached_tail = tail;
      ch->cache_valid |= 2;
    }
    if (!span_ok(ch, head, tail)) return SHMEM_EBADSTATE;
    if (head == tail) return -EAGAIN;
    uint64_t off = head & (ch->capacity - 1);
    record_t *rec = rec_at(ch, head);
    uint32_t state = LOAD(&rec->state, ACQ);
    uint64_t length = LOAD(&rec->length, RLX);
    uint64_t span = rec_span(length);
    /* Every record lies inside the ring and inside what the tail published. */
    if (length > ch->capacity || off + span > ch->capacity || span > (uint32_t)(tail - head)) {
      return SHMEM_EBADSTATE;
    }
    switch (state) {
      case REC_COMMITTED:
        if (length > ch->max_message_size) return SHMEM_EBADSTATE;
        *pos = head;
        *len = length;
        return 0;
      case REC_RESERVED:
        if (ch->kind == SHMEM_CHANNEL_SPSC || length > ch->max_message_size) {
          return SHMEM_EBADSTATE;
        }
        if (!reserved_dead(ch, head, rec)) return -EAGAIN;
        uint32_t expected = REC_RESERVED;
        if (__atomic_compare_exchange_n(&rec->state, &expected, REC_ABORTED, 0, ACQ, ACQ)) {
          __atomic_fetch_add(f64(ch, H_ABANDONED), 1, RLX);
        }
        continue; /* read it again: aborted now, or committed at the last moment */
      case REC_SKIP:
      case REC_ABORTED:
        STORE(headp, (uint32_t)(head + span), REL);
        *moved = 1;
        continue;
      default:
        return SHMEM_EBADSTATE;
    }
  }
}

static int recv_lock(shmem_channel_t *ch, int64_t timeout_ns) {
  if (ch->kind != SHMEM_CHANNEL_MPMC) return 0;
  return lock_acquire(f64(ch, H_RECV_LOCK), timeout_ns);
}

static void recv_unlock(shmem_channel_t *ch) {
  if (ch->kind != SHMEM_CHANNEL_MPMC) return;
  lock_release(f64(ch, H_RECV_LOCK));
  /* Receivers waiting for the lock sleep with the ones waiting for data. */
  wake(ch, H_DATA_SEQ, H_DATA_WAITERS);
}

static void consume(shmem_channel_t *ch, uint64_t next, uint64_t len) {
  uint64_t *msgs = f64(ch, H_MESSAGES_RECEIVED), *bytes = f64(ch, H_BYTES_RECEIVED);
  STORE(msgs, LOAD(msgs, RLX) + 1, RLX);
  STORE(bytes, LOAD(bytes, RLX) + len, RLX);
  STORE(f32(ch, H_HEAD), (uint32_t)next, REL);
}

int shmem_channel_peek(shmem_channel_t *ch, const void **data, uint64_t *len) {
  if (ch->base == NULL) return -EINVAL;
  if (ch->peek_pos != NONE) return -EBUSY;
  if (recv_lock(ch, LOCK_TRY_NS) < 0) return -EAGAIN;
  register_receiver(ch);
  uint64_t pos = 0, length = 0;
  int moved = 0;
  int r = head_record(ch, &pos, &length, &moved);
  if (moved) wake(ch, H_SPACE_SEQ, H_SPACE_WAITERS);
  if (r < 0) {
    recv_unlock(ch);
    return r;
  }
  ch->peek_pos = pos;
  ch->peek_len = length;
  ch->peek_next = (uint32_t)(pos + rec_span(length));
  ch->peek_locked = ch->kind == SHMEM_CHANNEL_MPMC;
  *data = (const unsigned char *)rec_at(ch, pos) + HDR;
  *len = length;
  return 0;
}

int shmem_channel_release(shmem_channel_t *ch) {
  if (ch->base == NULL || ch->peek_pos == NONE) return -EINVAL;
  int r = 0;
  /* Only the receiver moves the head: if it is not where the peek left it, someone else
   * received in between (two receivers on a single-receiver channel, or garbage). */
  if (LOAD(f32(ch, H_HEAD), ACQ) != ch->peek_pos) r = SHMEM_EBADSTATE;
  else consume(ch, ch->peek_next, ch->peek_len);
  ch->peek_pos = NONE;
  if (ch->peek_locked) recv_unlock(ch);
  ch->peek_locked = 0;
  wake(ch, H_SPACE_SEQ, H_SPACE_WAITERS);
  return r;
}

int shmem_channel_unpeek(shmem_channel_t *ch) {
  if (ch->base == NULL || ch->peek_pos == NONE) return -EINVAL;
  ch->peek_pos = NONE;
  if (ch->peek_locked) recv_unlock(ch);
  ch->peek_locked = 0;
  return 0;
}

int shmem_channel_receive(shmem_channel_t *ch, void *buf, uint64_t buf_size, uint64_t *len) {
  const void *data;
  uint64_t n;
  int r = shmem_channel_peek(ch, &data, &n);
  if (r < 0) return r;
  *len = n;
  if (n > buf_size) {
    shmem_channel_unpeek(ch); /* leave the message where it is */
    return -ENOBUFS;
  }
  if (n > 0) memcpy(buf, data, n);
  return shmem_channel_release(ch);
}

/* ---- waiting ------------------------------------------------------------------------------- */

int shmem_channel_readable(shmem_channel_t *ch) {
  if (ch->base == NULL) return 0;
  if (ch->kind == SHMEM_CHANNEL_MPMC) {
    /* Another receiver holds the lock (a peek): not readable for us, unless the holder has
     * held it for a while and turns out to be dead (the next receive takes the lock over). */
    uint64_t held = LOAD(f64(ch, H_RECV_LOCK), ACQ);
    uint32_t holder = (uint32_t)held;
    if (held != 0) {
      int64_t now = shmem_now_ns();
      if (holder != ch->lock_seen_holder) {
        ch->lock_seen_holder = holder;
        ch->lock_seen_ns = now;
        return 0;
      }
      if (now - ch->lock_seen_ns < STUCK_CHECK_NS) return 0;
      ch->lock_seen_ns = now;
      if (!lock_dead(held)) return 0;
    }
  }
  uint32_t head = LOAD(f32(ch, H_HEAD), ACQ);
  uint32_t tail = LOAD(f32(ch, H_TAIL), ACQ);
  if (head == tail) return 0;
  /* Garbage counts as readable: the receive that follows reports it. */
  if (!span_ok(ch, head, tail)) return 1;
  record_t *rec = rec_at(ch, head);
  if (LOAD(&rec->state, ACQ) != REC_RESERVED) return 1;
  return reserved_dead(ch, head, rec);
}

static int writable(shmem_channel_t *ch, uint64_t n) {
  uint32_t tail = LOAD(f32(ch, H_TAIL), ACQ);
  uint32_t head = LOAD(f32(ch, H_HEAD), ACQ);
  if (!span_ok(ch, head, tail)) return 1;
  return room_for(ch, head, tail, rec_span(n)) >= 0;
}

/* How long to spin and to yield before sleeping: SPIN_NS and YIELD_NS, or what the environment
 * says (SHMEM_CHANNEL_SPIN_NS, SHMEM_CHANNEL_YIELD_NS; for tuning and the benchmark). */
static int64_t spin_budget[2] = {-1, -1};

static int64_t budget(int which) {
  int64_t v = __atomic_load_n(&spin_budget[which], RLX);
  if (v >= 0) return v;
  const char *env = getenv(which == 0 ? "SHMEM_CHANNEL_SPIN_NS" : "SHMEM_CHANNEL_YIELD_NS");
  v = which == 0 ? SPIN_NS : YIELD_NS;
  if (env != NULL && *env != '\0') {
    char *end;
    long long parsed = strtoll(env, &end, 10);
    if (*end == '\0' && parsed >= 0 && parsed <= 1000000) v = parsed;
  }
  __atomic_store_n(&spin_budget[which], v, RLX);
  return v;
}

/* Spins up to SPIN_NS, yields up to YIELD_NS more, then sleeps on the sequence word in slices
 * (so that dead peers and lost wake-ups are noticed), until ready() says yes. The spin is
 * short because with 2 CPUs the peer may need this one; the yields hand the CPU to a peer
 * that shares it, and catch a reply that comes within a scheduler's wake-up time, which a
 * sleep would turn into tens of microseconds. */
static int wait_for(shmem_channel_t *ch, int (*ready)(shmem_channel_t *, uint64_t), uint64_t n,
                    size_t seq_off, size_t waiters_off, int64_t slice_ns, int64_t deadline_ns,
                    const volatile int *cancel) {
  int64_t start = shmem_now_ns();
  /* The spin adapts (per view): a yield that took long means another thread ran on this CPU
   * meanwhile, likely the peer we wait for (2 CPUs: both sides often end up on one), and then
   * spinning only delays it: the next waits go straight to yielding. A wait that ends while
   * the yields return at once (the peer runs on another CPU) restores the full spin. */
  int64_t full = budget(0);
  if (ch->spin_ns < 0 || ch->spin_ns > full) ch->spin_ns = full;
  int64_t spin = ch->spin_ns, yield = full + budget(1);
  int switched = 0;
  for (unsigned i = 0;; i++) {
    if (ready(ch, n)) {
      if (i >= 1024) ch->spin_ns = switched ? 0 : full;
      return 0;
    }
    if (cancel != NULL && *cancel) return -ECANCELED;
    int64_t now = 0;
    if ((i & 15) == 15 || i >= 1024 || spin == 0) {
      now = shmem_now_ns();
      if (now - start >= yield) break;
      if (deadline_ns >= 0 && now >= deadline_ns) return -ETIMEDOUT;
    }
    if (now != 0 && now - start >= spin) {
      i = 1024; /* from here every round reads the clock */
      sched_yield();
      if (shmem_now_ns() - now > SWITCHED_NS) switched = 1;
    } else {
      cpu_relax();
    }
  }
  uint32_t *seq = f32(ch, seq_off), *waiters = f32(ch, waiters_off);
  for (;;) {
    STORE(waiters, 1, SEQ);
    uint32_t seen = LOAD(seq, SEQ);
    int r = 0;
    if (ready(ch, n)) r = 1;
    else if (cancel != NULL && *cancel) r = -ECANCELED;
    if (r == 0) {
      int64_t now = shmem_now_ns();
      if (deadline_ns >= 0 && now >= deadline_ns) {
        r = -ETIMEDOUT;
      } else {
        int64_t until = now + slice_ns;
        if (deadline_ns >= 0 && deadline_ns < until) until = deadline_ns;
        shmem_futex_wait(seq, seen, until);
      }
    }
    /* The flag stays up: the waker takes it down, and a waiter that leaves without being
     * woken costs its peers one needless wake at most. */
    if (r == 1) return 0;
    if (r < 0) return r;
  }
}

static int ready_readable(shmem_channel_t *ch, uint64_t n) {
  (void)n;
  return shmem_channel_readable(ch);
}

int shmem_channel_wait_readable(shmem_channel_t *ch, int64_t deadline_ns,
                                const volatile int *cancel) {
  if (ch->base == NULL) return -EINVAL;
  return wait_for(ch, ready_readable, 0, H_DATA_SEQ, H_DATA_WAITERS, RECV_SLICE_NS, deadline_ns,
                  cancel);
}

int shmem_channel_wait_writable(shmem_channel_t *ch, uint64_t n, int64_t deadline_ns,
                                const volatile int *cancel) {
  if (ch->base == NULL) return -EINVAL;
  if (n > ch->max_message_size) return -EMSGSIZE;
  return wait_for(ch, writable, n, H_SPACE_SEQ, H_SPACE_WAITERS, SEND_SLICE_NS, deadline_ns,
                  cancel);
}

void shmem_channel_interrupt(shmem_channel_t *ch) {
  if (ch->base == NULL) return;
  __atomic_fetch_add(f32(ch, H_DATA_SEQ), 1, SEQ);
  shmem_futex_wake(f32(ch, H_DATA_SEQ), INT_MAX);
  __atomic_fetch_add(f32(ch, H_SPACE_SEQ), 1, SEQ);
  shmem_futex_wake(f32(ch, H_SPACE_SEQ), INT_MAX);
}

void shmem_channel_forget(shmem_channel_t *ch) { ch->cache_valid = 0; }

void shmem_channel_notify(shmem_channel_t *ch, int which) {
  if (ch->base == NULL) return;
  if (which & SHMEM_CHANNEL_NOTIFY_READERS) wake(ch, H_DATA_SEQ, H_DATA_WAITERS);
  if (which & SHMEM_CHANNEL_NOTIFY_WRITERS) wake(ch, H_SPACE_SEQ, H_SPACE_WAITERS);
}

int shmem_channel_send_wait(shmem_channel_t *ch, const void *data, uint64_t len,
                            int64_t deadline_ns) {
  for (;;) {
    int r = shmem_channel_send(ch, data, len);
    if (r != -EAGAIN) return r;
    r = shmem_channel_wait_writable(ch, len, deadline_ns, NULL);
    if (r < 0) return r;
  }
}

int shmem_channel_receive_wait(shmem_channel_t *ch, void *buf, uint64_t buf_size,
                               uint64_t *len, int64_t deadline_ns) {
  for (;;) {
    int r = shmem_channel_receive(ch, buf, buf_size, len);
    if (r != -EAGAIN) return r;
    r = shmem_channel_wait_readable(ch, deadline_ns, NULL);
    if (r < 0) return r;
  }
}

void shmem_channel_stats(shmem_channel_t *ch, shmem_channel_stats_t *st) {
  memset(st, 0, sizeof(*st));
  if (ch->base == NULL) return;
  uint32_t head = LOAD(f32(ch, H_HEAD), ACQ);
  uint32_t tail = LOAD(f32(ch, H_TAIL), ACQ);
  st->capacity = ch->capacity;
  st->used = (uint32_t)(tail - head) <= ch->capacity ? (uint32_t)(tail - head) : ch->capacity;
  st->messages_sent = LOAD(f64(ch, H_MESSAGES_SENT), RLX);
  st->bytes_sent = LOAD(f64(ch, H_BYTES_SENT), RLX);
  st->messages_received = LOAD(f64(ch, H_MESSAGES_RECEIVED), RLX);
  st->bytes_received = LOAD(f64(ch, H_BYTES_RECEIVED), RLX);
  st->abandoned = LOAD(f64(ch, H_ABANDONED), RLX);
  st->senders = LOAD(f32(ch, H_SENDERS), RLX);
  st->receivers = LOAD(f32(ch, H_RECEIVERS), RLX);
}
