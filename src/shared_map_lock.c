/* Shared maps, part 3: the writer lock (docs/map-format.md, "Writing" and "Recovery").
 *
 * A robust lock word {pid, start time} in the header: the channels' lock
 * (shmem__robust_lock_acquire, src/channel_lock.c), with waiters asleep on the word's pid half
 * in slices, so that a dead holder is noticed. The writer that takes the lock over from a dead
 * holder repairs the map (shmem__shared_map_repair, src/shared_map_write.c) before it writes. */
#include "shared_map_internal.h"

#include <limits.h>

#define LOCK_SPIN_NS 20000    /* spin and yield this long for the lock, */
#define LOCK_SLICE_NS 1000000 /* then sleep in slices this long, looking for a dead holder */

/* ---- the lock ------------------------------------------------------------------------------ */

/* The half of the lock word that holds the pid: waiters sleep on it. */
static uint32_t *lock_pid_word(const shmem_shared_map_t *m) {
  return m32(m, M_LOCK + (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 4 : 0));
}

static void count_down(uint32_t *word) {
  uint32_t v = LOAD(word, RLX);
  while (v > 0 && !__atomic_compare_exchange_n(word, &v, v - 1, 0, RLX, RLX)) {
  }
}

/* 0, 1 when taken over from a dead holder, or -ETIMEDOUT. */
static int acquire(shmem_shared_map_t *m) {
  uint64_t *word = m64(m, M_LOCK);
  int64_t deadline = -1;
  for (;;) {
    int recovered = 0;
    if (shmem__robust_lock_acquire(word, LOCK_SPIN_NS, &recovered) == 0) return recovered;
    int64_t now = shmem_now_ns();
    if (deadline < 0 && m->lock_timeout_ns >= 0) deadline = now + m->lock_timeout_ns;
    if (deadline >= 0 && now >= deadline) return -ETIMEDOUT;
    uint64_t held = LOAD(word, RLX);
    if (held == 0) continue;
    uint32_t *waiters = m32(m, M_LOCK_WAITERS);
    __atomic_fetch_add(waiters, 1, SEQ);
    int64_t until = now + LOCK_SLICE_NS;
    if (deadline >= 0 && deadline < until) until = deadline;
    shmem_futex_wait(lock_pid_word(m), (uint32_t)held, until);
    count_down(waiters);
  }
}

static void release(shmem_shared_map_t *m) {
  shmem__channel_lock_release(m64(m, M_LOCK));
  /* Pairs with a waiter's increment: either it sees the lock free, or we see it waiting. */
  __atomic_thread_fence(SEQ);
  if (LOAD(m32(m, M_LOCK_WAITERS), RLX) != 0) shmem_futex_wake(lock_pid_word(m), INT_MAX);
}

/* Takes the lock for this view: 0, 1 when it was taken over (and the map repaired), < 0. */
static int take(shmem_shared_map_t *m) {
  int r = acquire(m);
  if (r < 0) return r;
  m->owns_lock = 1;
  if (r == 1) {
    shmem__shared_map_repair(m);
    __atomic_fetch_add(m64(m, M_RECOVERIES), 1, RLX);
  }
  return r;
}

int shmem__shared_map_begin(shmem_shared_map_t *m) {
  if (m->owns_lock) return 0;
  int r = take(m);
  return r < 0 ? r : 1;
}

void shmem__shared_map_end(shmem_shared_map_t *m, int took) {
  if (took != 1) return;
  m->owns_lock = 0;
  release(m);
}

int shmem_shared_map_lock(shmem_shared_map_t *m) {
  if (m->base == NULL) return -EINVAL;
  if (m->held > 0) {
    m->held++;
    return 0;
  }
  int r = m->owns_lock ? 0 : take(m);
  if (r >= 0) m->held = 1;
  return r;
}

void shmem_shared_map_unlock(shmem_shared_map_t *m) {
  if (m->held <= 0 || --m->held > 0 || !m->owns_lock) return;
  m->owns_lock = 0;
  release(m);
}
