/* Channels: a ring of length-prefixed records in shared memory (docs/channel-format.md).
 *
 * Positions (head, tail) are byte counters that only grow; a position's place in the ring is
 * pos & (capacity - 1). Senders own the tail, receivers the head, each on its own cache line.
 * spsc publishes a record by moving the tail after the record is complete, so a receiver never
 * sees a half-written one. mpsc/mpmc reserve under a short robust lock (the holder's pid and
 * start time in one 64-bit lock word), publish the record as RESERVED with the reserver's pid
 * and start time, write it outside the lock and flip it to COMMITTED; a receiver that finds a
 * RESERVED record whose reserver is dead skips it. Every value read from the shared memory is
 * checked before it is used to address anything: garbage gives SHMEM_EBADSTATE.
 *
 * This file: the layout and the ring. src/channel_lock.c: identity, liveness and the locks;
 * src/channel_wait.c: waiting and waking; src/channel_internal.h: what they share. */
#include "channel_internal.h"

#include <string.h>

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
  if (m > limit || m > SHMEM_CHANNEL_MAX_MESSAGE_SIZE) return -ERANGE;
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
  ch->send_lock_seen = 0;
  ch->send_lock_seen_ns = ch->send_lock_checked_ns = 0;
  ch->lock_wait = 0;
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
  if (multi && shmem__channel_lock_acquire(lock, LOCK_TRY_NS) < 0) return -EAGAIN;
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
      shmem__channel_identity(&pid, &start);
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
  if (multi) shmem__channel_lock_release(lock);
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
int shmem__channel_reserved_dead(shmem_channel_t *ch, uint64_t pos, const record_t *rec) {
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
  ch->stuck_dead = shmem__channel_process_dead(LOAD(&rec->pid, RLX), start, start != 0);
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
        if (!shmem__channel_reserved_dead(ch, head, rec)) return -EAGAIN;
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
  return shmem__channel_lock_acquire(f64(ch, H_RECV_LOCK), timeout_ns);
}

static void recv_unlock(shmem_channel_t *ch) {
  if (ch->kind != SHMEM_CHANNEL_MPMC) return;
  shmem__channel_lock_release(f64(ch, H_RECV_LOCK));
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
