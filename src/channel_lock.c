/* Channels, part 2: who we are, whether another process still lives, and the robust spin
 * locks of mpsc and mpmc (docs/channel-format.md, "Locks"). */
#include "channel_internal.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

/* ---- who we are, and whether another process still lives ------------------------------- */

static uint64_t self_identity; /* pid << 32 | start; 0 until known, reset in a forked child */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void reset_identity(void) { STORE(&self_identity, 0, RLX); }
static void register_atfork(void) { pthread_atfork(NULL, NULL, reset_identity); }

void shmem__channel_identity(uint32_t *pid, uint32_t *start) {
  uint64_t id = LOAD(&self_identity, RLX);
  if (id == 0) {
    pthread_once(&atfork_once, register_atfork);
    uint32_t p = (uint32_t)getpid();
    uint64_t s = 0, seen = 0;
    int ended = 0;
    if (shmem__proc_stat((int32_t)p, &s, &ended, NULL) < 0) s = 0;
    uint64_t fresh = (uint64_t)p << 32 | (uint32_t)s;
    /* The first thread to publish wins, and every thread uses its word: two threads of this
     * process with two words (one /proc read failed) would take each other's locks. */
    id = __atomic_compare_exchange_n(&self_identity, &seen, fresh, 0, RLX, RLX) ? fresh : seen;
  }
  *pid = (uint32_t)(id >> 32);
  *start = (uint32_t)id;
}

/* 1 when the process (pid, start) is gone, by shmem_liveness's rule for processes (a zombie
 * leader whose other threads still run is alive: such a process may still write) with start
 * compared in the 32 bits a record or a lock word keeps; with check_start 0 any start does.
 * A pid no process can have (0, past INT32_MAX) is dead. "Cannot tell" is not dead: a live
 * process is never called dead on a guess. One rule of its own comes first: our own pid is
 * alive exactly with our own start word, read once and kept (every thread of ours writes
 * that word, 0 too where we cannot read /proc), so that our pid with another word is an
 * earlier process's even where /proc cannot say so. */
int shmem__channel_process_dead(uint32_t pid, uint32_t start, int check_start) {
  uint32_t me, my_start;
  shmem__channel_identity(&me, &my_start);
  if (pid == me) return start != my_start;
  return shmem_liveness(pid, check_start ? start : 0, SHMEM_LIVENESS_START32) ==
         SHMEM_LIVENESS_DEAD;
}

/* ---- robust spin locks (held for a few instructions, or for a peek on mpmc) ------------- */

/* A lock is one 64-bit word: the holder's pid in the low 32 bits, its start time (as records
 * carry it; 0 where the holder could not read /proc) in the high 32 bits, 0 when free. One
 * word, so that every load and every compare-and-swap sees a pid together with its own start
 * time: a dead holder whose pid a living process took is told apart from that process, and
 * a takeover swaps from exactly the dead holder's word, never from a live one that took the
 * lock meanwhile. With start time 0 only the pid is checked. */
_Static_assert(H_SEND_LOCK % 8 == 0 && H_RECV_LOCK % 8 == 0, "lock words are 8-byte aligned");
_Static_assert(__atomic_always_lock_free(8, 0), "64-bit atomics work across processes");

static inline uint64_t lock_word(uint32_t pid, uint32_t start) {
  return (uint64_t)start << 32 | pid;
}

int shmem__channel_lock_dead(uint64_t held) {
  uint32_t start = (uint32_t)(held >> 32);
  return shmem__channel_process_dead((uint32_t)held, start, start != 0);
}

/* 0, or -EAGAIN when timeout_ns (< 0: none) passes with the lock held by a live process. The
 * clock is read only once the lock turned out to be busy. */
int shmem__channel_lock_acquire(uint64_t *word, int64_t timeout_ns) {
  return shmem__robust_lock_acquire(word, timeout_ns, NULL);
}

int shmem__robust_lock_acquire(uint64_t *word, int64_t timeout_ns, int *recovered) {
  if (recovered != NULL) *recovered = 0;
  uint32_t me, start;
  shmem__channel_identity(&me, &start);
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
      if (expected != 0 && expected != mine && shmem__channel_lock_dead(expected) &&
          __atomic_compare_exchange_n(word, &expected, mine, 0, ACQ, RLX)) {
        if (recovered != NULL) *recovered = 1;
        return 0;
      }
      if (deadline_ns >= 0 && shmem_now_ns() >= deadline_ns) return -EAGAIN;
    }
    sched_yield();
  }
}

/* Frees the lock if this process still holds it: a holder that was wrongly judged dead (and
 * taken over) must not free its taker's lock. */
void shmem__channel_lock_release(uint64_t *word) {
  uint32_t me, start;
  shmem__channel_identity(&me, &start);
  uint64_t mine = lock_word(me, start);
  __atomic_compare_exchange_n(word, &mine, 0, 0, REL, RLX);
}
