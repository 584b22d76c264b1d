/* Channels, part 3: waiting for data or room, and waking sleepers (docs/channel-format.md,
 * "Sleeping"). */
#include "channel_internal.h"

#include <sched.h>
#include <stdlib.h>

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
      if (!shmem__channel_lock_dead(held)) return 0;
    }
  }
  uint32_t head = LOAD(f32(ch, H_HEAD), ACQ);
  uint32_t tail = LOAD(f32(ch, H_TAIL), ACQ);
  if (head == tail) return 0;
  /* Garbage counts as readable: the receive that follows reports it. */
  if (!span_ok(ch, head, tail)) return 1;
  record_t *rec = rec_at(ch, head);
  if (LOAD(&rec->state, ACQ) != REC_RESERVED) return 1;
  return shmem__channel_reserved_dead(ch, head, rec);
}

/* mpsc/mpmc: whether a sender must wait for the send lock's holder. The lock is held for a
 * few stores per send, so a holder seen for less than STUCK_CHECK_NS is merely busy, and the
 * send's own try (LOCK_TRY_NS) waits for it. One that holds it longer is descheduled or
 * stopped: then the sender sleeps (rather than spin at full speed, past its deadline, as it
 * did when only room counted), and asks every STUCK_CHECK_NS whether the holder died. */
static int send_lock_stuck(shmem_channel_t *ch) {
  uint64_t held = LOAD(f64(ch, H_SEND_LOCK), ACQ);
  /* The word names a process, not one hold: seen free, the next hold is a new one, even by
   * the same process (else a process's holds would add up to "stuck" across its sends). */
  if (held == 0) {
    ch->send_lock_seen = 0;
    return 0;
  }
  int64_t now = shmem_now_ns();
  if (held != ch->send_lock_seen) {
    ch->send_lock_seen = held;
    ch->send_lock_seen_ns = ch->send_lock_checked_ns = now;
    return 0;
  }
  if (now - ch->send_lock_seen_ns < STUCK_CHECK_NS) return 0;
  if (now - ch->send_lock_checked_ns < STUCK_CHECK_NS) return 1;
  ch->send_lock_checked_ns = now;
  return !shmem__channel_lock_dead(held);
}

static int writable(shmem_channel_t *ch, uint64_t n) {
  ch->lock_wait = 0;
  if (ch->kind != SHMEM_CHANNEL_SPSC && send_lock_stuck(ch)) {
    /* Nobody wakes a sender when the lock is released: wait_for() sleeps at most
     * STUCK_CHECK_NS at a time for it, not a whole slice. */
    ch->lock_wait = 1;
    return 0;
  }
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
  /* More tasks are runnable than there are CPUs (one CPU-bound process per core, say): a spin
   * or a yield here only keeps the peer waiting for a CPU, and each yield can hand this one to
   * a busy task for a whole scheduler slice. Sleep at once instead: the peer's wake-up makes
   * this waiter runnable with the scheduler's credit for having slept. Measured in
   * bench/channel.js, rows "loaded". */
  if (shmem_cpus_crowded()) {
    ch->spin_ns = 0;
    if (!ready(ch, n)) goto sleep;
    return 0;
  }
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
      int64_t took = shmem_now_ns() - now;
      if (took > SWITCHED_NS) switched = 1;
    } else {
      cpu_relax();
    }
  }
sleep:;
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
        int64_t until = now + (ch->lock_wait && slice_ns > STUCK_CHECK_NS ? STUCK_CHECK_NS
                                                                          : slice_ns);
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
    /* Room but a busy lock makes the wait return at once: the deadline is checked here too. */
    if (deadline_ns >= 0 && shmem_now_ns() >= deadline_ns) return -ETIMEDOUT;
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
