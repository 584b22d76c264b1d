/* libFuzzer target: lock words and the liveness answers drawn from them. The channel's robust
 * locks (src/channel_lock.c) keep {pid, start time} in one 64-bit word of the shared header;
 * the JS locks (lib/lock.js) keep a thread id and start time in their words and ask
 * shmem_thread_alive() about them. Input: 12-byte items {u64 lock word, u32 flags}. For each,
 * the word is placed in an 8-byte heap cell and taken with a zero timeout (it must come back
 * 0 or -EAGAIN, never block), released, and its pid and start time are put to every liveness
 * call. Liveness reads /proc for the pids in the input and calls kill(pid, 0), nothing else. */
#include "channel_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (size_t at = 0; at + 12 <= size; at += 12) {
    uint64_t word;
    uint32_t flags;
    memcpy(&word, data + at, 8);
    memcpy(&flags, data + at + 8, 4);
    uint32_t pid = (uint32_t)word, start = (uint32_t)(word >> 32);
    if (flags & 1) {
      /* Our own pid with the fuzzed start time: an earlier process of ours, or us. */
      uint32_t me, my_start;
      shmem__channel_identity(&me, &my_start);
      pid = me;
      word = (uint64_t)start << 32 | pid;
    }

    uint64_t *cell = malloc(sizeof(*cell));
    if (cell == NULL) return 0;
    __atomic_store_n(cell, word, __ATOMIC_RELAXED);
    int r = shmem__channel_lock_acquire(cell, 0);
    assert(r == 0 || r == -EAGAIN);
    if (r == 0) {
      uint32_t me, my_start;
      shmem__channel_identity(&me, &my_start);
      assert(*cell == ((uint64_t)my_start << 32 | me));
      shmem__channel_lock_release(cell);
      assert(*cell == 0);
    } else {
      /* Someone else's lock stays theirs and a release by us leaves it alone; our own word
       * (another thread of ours holds it) is never taken over, and a release frees it. */
      uint32_t me, my_start;
      shmem__channel_identity(&me, &my_start);
      int ours = word == ((uint64_t)my_start << 32 | me);
      assert(*cell == word);
      shmem__channel_lock_release(cell);
      assert(*cell == (ours ? 0 : word));
    }
    free(cell);

    r = shmem__channel_lock_dead(word);
    assert(r == 0 || r == 1);
    r = shmem__channel_process_dead(pid, start, (flags >> 1) & 1);
    assert(r == 0 || r == 1);
    int32_t tid = (int32_t)pid;
    r = shmem_thread_alive(tid, (flags & 4) ? start : 0);
    assert(r == 0 || r == 1);
    uint64_t st = 0;
    r = shmem_thread_start_time(tid, &st);
    assert(r == 0 || r < 0);
    if (tid <= 0) assert(r == -EINVAL);
  }
  return 0;
}
