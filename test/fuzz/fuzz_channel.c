/* libFuzzer target: a channel whose bytes a hostile or broken peer wrote (the native path of
 * src/channel*.c). Input: 16 operation bytes, then the segment (header and ring; the seeds
 * are real channels dumped by make-seeds.js). The segment is copied into a heap region of
 * exactly its size, and, once attach() accepts it, of exactly the byte length its header
 * declares, so AddressSanitizer reports any access outside the channel. The operations run
 * the non-waiting calls (and the waiting ones with a deadline that has passed) on two views,
 * and one of them writes a byte into the segment between calls, as a peer running at the
 * same time would. Every call must return 0 or one of its documented errors. */
#include "channel_internal.h"
#include "expect.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define OPS 16

static unsigned char scratch[1 << 16];
static unsigned char payload[1 << 16];


/* Reads every byte of a message so that AddressSanitizer checks where it lies. */
static unsigned sum(const unsigned char *p, uint64_t n) {
  unsigned s = 0;
  for (uint64_t i = 0; i < n; i++) s += p[i];
  return s;
}

static void in_ring(const shmem_channel_t *ch, const void *p, uint64_t n) {
  const unsigned char *b = p;
  assert(b >= ch->ring && b + n <= ch->ring + ch->capacity);
}

/* The length an operation asks for, from its parameter nibble: 0, small, around the largest
 * message, or over it. */
static uint64_t length_of(const shmem_channel_t *ch, unsigned param) {
  uint64_t max = ch->max_message_size;
  switch (param & 3) {
    case 0: return param >> 2;
    case 1: return (uint64_t)(param >> 2) * 13;
    case 2: return max >= (param >> 2) ? max - (param >> 2) : 0;
    default: return max + 1 + (param >> 2);
  }
}


/* Makes the liveness checks that wait for STUCK_CHECK_NS run now. */
static void age(shmem_channel_t *ch) {
  ch->stuck_since_ns -= 2 * STUCK_CHECK_NS;
  ch->lock_seen_ns -= 2 * STUCK_CHECK_NS;
}

static void run_op(shmem_channel_t *views[2], unsigned char *mem, uint64_t size,
                   const uint8_t *ops, int *i) {
  unsigned op = ops[*i] & 15, param = ops[*i] >> 4;
  shmem_channel_t *ch = views[param & 1];
  int r;
  uint64_t len = 0;
  const void *cdata;
  void *data;
  switch (op) {
    case 0: {
      uint64_t n = length_of(ch, param);
      r = shmem_channel_send(ch, payload, n > sizeof(payload) ? sizeof(payload) : n);
      EXPECT(r, 0, -EAGAIN, -EMSGSIZE, -EBUSY, -EINVAL, SHMEM_EBADSTATE);
      break;
    }
    case 1: {
      uint64_t cap = (param & 2) ? sizeof(scratch) : param * 5;
      r = shmem_channel_receive(ch, scratch, cap, &len);
      EXPECT(r, 0, -EAGAIN, -ENOBUFS, -EBUSY, -EINVAL, SHMEM_EBADSTATE);
      if (r == 0) assert(len <= cap && len <= ch->max_message_size);
      if (r == -ENOBUFS) assert(len > cap);
      break;
    }
    case 2:
    case 3:
      r = shmem_channel_peek(ch, &cdata, &len);
      EXPECT(r, 0, -EAGAIN, -EBUSY, -EINVAL, SHMEM_EBADSTATE);
      if (r == 0) {
        assert(len <= ch->max_message_size);
        in_ring(ch, cdata, len);
        (void)sum(cdata, len);
        r = op == 2 ? shmem_channel_release(ch) : shmem_channel_unpeek(ch);
        EXPECT(r, 0, SHMEM_EBADSTATE);
      }
      break;
    case 4:
    case 5: {
      uint64_t n = length_of(ch, param);
      r = shmem_channel_reserve(ch, n, &data);
      EXPECT(r, 0, -EAGAIN, -EMSGSIZE, -EBUSY, -EINVAL, SHMEM_EBADSTATE);
      if (r == 0) {
        in_ring(ch, data, n);
        memset(data, 0x5a, n);
        if (op == 4) {
          r = shmem_channel_commit(ch, n >> (param & 3));
          EXPECT(r, 0, SHMEM_EBADSTATE);
        } else {
          r = shmem_channel_abort(ch);
          EXPECT(r, 0);
        }
      }
      break;
    }
    case 6:
      r = shmem_channel_readable(ch);
      assert(r == 0 || r == 1);
      break;
    case 7: {
      shmem_channel_stats_t st;
      shmem_channel_stats(ch, &st);
      assert(st.used <= st.capacity);
      break;
    }
    case 8:
      r = shmem_channel_wait_readable(ch, shmem_now_ns(), NULL);
      EXPECT(r, 0, -ETIMEDOUT, -EINVAL);
      break;
    case 9:
      r = shmem_channel_wait_writable(ch, length_of(ch, param), shmem_now_ns(), NULL);
      EXPECT(r, 0, -ETIMEDOUT, -EMSGSIZE, -EINVAL);
      break;
    case 10:
      if (param & 2) {
        r = shmem_channel_receive_wait(ch, scratch, sizeof(scratch), &len, shmem_now_ns());
        EXPECT(r, 0, -ETIMEDOUT, -EBUSY, -EINVAL, SHMEM_EBADSTATE);
      } else {
        uint64_t n = length_of(ch, param);
        if (n > sizeof(payload)) n = sizeof(payload);
        r = shmem_channel_send_wait(ch, payload, n, shmem_now_ns());
        EXPECT(r, 0, -ETIMEDOUT, -EMSGSIZE, -EBUSY, -EINVAL, SHMEM_EBADSTATE);
      }
      break;
    case 11:
      age(ch);
      break;
    case 12: {
      /* Detach and attach again: the header may have changed since. */
      shmem_channel_detach(ch);
      r = shmem_channel_attach(ch, mem, size);
      EXPECT(r, 0, SHMEM_EBADSTATE);
      break;
    }
    case 13:
      if (param & 2) shmem_channel_interrupt(ch);
      else shmem_channel_notify(ch, param & 3);
      shmem_channel_forget(ch);
      break;
    default: {
      /* A peer writes: the next two operation bytes are an offset into the hot header lines
       * or the ring's first bytes, and a value. */
      if (*i + 2 >= OPS) break;
      uint64_t at = ((uint64_t)ops[*i + 1] * 4 + (param & 3)) % size;
      mem[at] = ops[*i + 2];
      *i += 2;
      break;
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < OPS + 4) return 0;
  const uint8_t *ops = data;
  size_t len = size - OPS;
  unsigned char *mem = NULL;
  if (posix_memalign((void **)&mem, 64, len) != 0) return 0;
  memcpy(mem, data + OPS, len);
  shmem_channel_t a, b;
  int r = shmem_channel_attach(&a, mem, len);
  EXPECT(r, 0, SHMEM_EBADSTATE);
  if (r == 0 && a.byte_length < len) {
    /* Exactly the declared length, so that a read past it is caught. */
    unsigned char *exact = NULL;
    if (posix_memalign((void **)&exact, 64, a.byte_length) != 0) {
      free(mem);
      return 0;
    }
    memcpy(exact, mem, a.byte_length);
    free(mem);
    mem = exact;
    len = a.byte_length;
    r = shmem_channel_attach(&a, mem, len);
    assert(r == 0);
  }
  if (r == 0) {
    r = shmem_channel_attach(&b, mem, len);
    assert(r == 0);
    shmem_channel_t *views[2] = {&a, &b};
    for (int i = 0; i < OPS; i++) {
      /* A view that a re-attach refused stays detached: its calls return -EINVAL. */
      run_op(views, mem, len, ops, &i);
    }
    shmem_channel_detach(&a);
    shmem_channel_detach(&b);
  }
  free(mem);
  return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  /* Waits go to the sleeping loop at once (a passed deadline ends them there). */
  setenv("SHMEM_CHANNEL_SPIN_NS", "0", 1);
  setenv("SHMEM_CHANNEL_YIELD_NS", "0", 1);
  for (size_t i = 0; i < sizeof(payload); i++) payload[i] = (unsigned char)(i * 31 + 7);
  return 0;
}
