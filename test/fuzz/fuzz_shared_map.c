/* libFuzzer target: a shared map whose bytes a hostile or broken peer wrote (src/shared_map*.c).
 * Input: 16 operation bytes, then the map (header, index, entries; the seeds are real maps
 * dumped by make-seeds.js). The map is copied into a heap region of exactly its size, and,
 * once attach() accepts it, of exactly the byte length its header declares, so that
 * AddressSanitizer reports any access outside the map. The operations run every call on two
 * views (the writer lock's timeout 0, so that a lock word naming a live process ends the call
 * instead of waiting), and one of them writes a byte into the map between calls, as a peer
 * running at the same time would. Every call must return 0 or one of its documented errors. */
#include "shared_map_internal.h"
#include "expect.h"

#include <assert.h>
#include <stdlib.h>

#define OPS 16

static unsigned char buf[1 << 16];


static void run_op(shmem_shared_map_t *views[2], unsigned char *mem, uint64_t size, uint8_t op) {
  unsigned kind = op & 15, param = op >> 4;
  shmem_shared_map_t *m = views[param & 1];
  char key[2] = {(char)('a' + (param >> 1)), 0};
  uint32_t klen = param & 8 ? 0 : 1;
  uint64_t len = 0;
  int64_t v = 0;
  int r;
  switch (kind) {
    case 0:
    case 1: {
      uint64_t room = kind == 0 ? sizeof(buf) : param;
      r = shmem_shared_map_get(m, key, klen, buf, room, &len);
      EXPECT(r, 0, -ENOENT, -ENOBUFS, SHMEM_EBADSTATE);
      if (r == 0) assert(len <= m->max_value_bytes && len <= room);
      break;
    }
    case 2:
      r = shmem_shared_map_has(m, key, klen);
      EXPECT(r, 0, 1, SHMEM_EBADSTATE);
      break;
    case 3:
    case 4: {
      uint64_t n = kind == 3 ? param : m->max_value_bytes + (param & 1);
      if (n > sizeof(buf)) n = sizeof(buf);
      r = shmem_shared_map_set(m, key, klen, 0, buf, n, param & 2 ? 0 : -1);
      EXPECT(r, 0, -ERANGE, SHMEM_EFULL, SHMEM_EBADSTATE, -ETIMEDOUT);
      break;
    }
    case 5:
      r = shmem_shared_map_delete(m, key, klen);
      EXPECT(r, 0, 1, SHMEM_EBADSTATE, -ETIMEDOUT);
      break;
    case 6:
      r = shmem_shared_map_increment(m, key, klen, 0, (int64_t)param - 8, INT64_MAX, &v);
      EXPECT(r, 0, -EINVAL, -ERANGE, SHMEM_EFULL, SHMEM_EBADSTATE, -ETIMEDOUT);
      break;
    case 7: {
      uint64_t cursor = 0;
      unsigned steps = 0;
      shmem_shared_map_item_t it = {buf, param, buf + 32768, sizeof(buf) - 32768, 0, 0, 0};
      while ((r = shmem_shared_map_next(m, &cursor, &it)) == 0) {
        assert(it.key_len <= m->max_key_bytes && it.value_len <= m->max_value_bytes);
        assert(++steps <= m->slots);
      }
      EXPECT(r, -ENOENT, -ENOBUFS);
      break;
    }
    case 8:
      r = shmem_shared_map_clear(m);
      EXPECT(r, 0, -ETIMEDOUT);
      break;
    case 9:
      r = shmem_shared_map_purge(m, NULL);
      EXPECT(r, 0, -ETIMEDOUT);
      break;
    case 10:
      r = shmem_shared_map_lock(m);
      EXPECT(r, 0, 1, -ETIMEDOUT);
      break;
    case 11:
      shmem_shared_map_unlock(m);
      break;
    case 12: {
      shmem_shared_map_stats_t st;
      shmem_shared_map_stats(m, &st);
      break;
    }
    case 13: /* a dead holder in the lock word: the next writer repairs the map */
      __atomic_store_n((uint64_t *)(void *)(mem + M_LOCK), 0x7fffffffu, __ATOMIC_RELAXED);
      break;
    default: /* a peer writes a byte */
      mem[((uint64_t)op * 2654435761u) % size] ^= (uint8_t)(op | 1);
      break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < OPS + SHMEM_SHARED_MAP_HEADER_SIZE) return 0;
  uint64_t len = size - OPS;
  unsigned char *mem = NULL;
  if (posix_memalign((void **)&mem, 64, len) != 0) return 0;
  memcpy(mem, data + OPS, len);
  shmem_shared_map_t a, b;
  if (shmem_shared_map_attach(&a, mem, len) == 0) {
    /* Again in a region of exactly the declared length, so an overrun of it is caught. */
    uint64_t exact = a.byte_length;
    unsigned char *tight = NULL;
    if (posix_memalign((void **)&tight, 64, exact) == 0) {
      memcpy(tight, mem, exact);
      int ra = shmem_shared_map_attach(&a, tight, exact);
      int rb = shmem_shared_map_attach(&b, tight, exact);
      assert(ra == 0 && rb == 0);
      a.lock_timeout_ns = b.lock_timeout_ns = 0;
      shmem_shared_map_t *views[2] = {&a, &b};
      for (int i = 0; i < OPS; i++) run_op(views, tight, exact, data[i]);
      shmem_shared_map_detach(&a);
      shmem_shared_map_detach(&b);
      free(tight);
    }
  }
  free(mem);
  return 0;
}
