/* The channel ring: layout, order, wrap-around, sizes, zero copy, garbage, dead senders and
 * senders in other processes. Regions come from the heap where ASan can see an overrun, and
 * from MAP_SHARED memory where fork() needs to share them. */
#include "no_proc.h" /* first: it needs _GNU_SOURCE */
#include "check.h"
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void *heap_region(uint64_t size) {
  void *p = aligned_alloc(64, (size_t)shmem__align_up(size, 64));
  if (p != NULL) memset(p, 0, (size_t)size);
  return p;
}

static void *shared_region(uint64_t size) {
  void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* A new channel of kind with capacity bytes, in the heap (shared 0) or in MAP_SHARED memory
 * (shared 1, for fork()); its memory, or NULL. */
static unsigned char *new_channel(shmem_channel_t *ch, uint64_t capacity, int kind, int shared,
                                  uint64_t *size) {
  shmem_channel_options_t o = {capacity, 0, kind};
  shmem_channel_byte_length(&o, size);
  unsigned char *mem = shared ? shared_region(*size) : heap_region(*size);
  if (mem == NULL || !CHECK_ERR(shmem_channel_init(ch, mem, *size, &o), 0)) return NULL;
  return mem;
}

static void test_options(void) {
  shmem_channel_options_t o = {1000, 0, SHMEM_CHANNEL_SPSC};
  uint64_t n = 0;
  CHECK_ERR(shmem_channel_byte_length(&o, &n), 0);
  CHECK_EQ_U64(n, SHMEM_CHANNEL_HEADER_SIZE + 1024);
  o.capacity = 1;
  CHECK_ERR(shmem_channel_byte_length(&o, &n), 0);
  CHECK_EQ_U64(n, SHMEM_CHANNEL_HEADER_SIZE + 64);
  o.capacity = 0;
  CHECK_ERR(shmem_channel_byte_length(&o, &n), -ERANGE);
  o.capacity = 1024;
  o.max_message_size = 512 - 16;
  CHECK_ERR(shmem_channel_byte_length(&o, &n), 0);
  o.max_message_size = 512 - 15;
  CHECK_ERR(shmem_channel_byte_length(&o, &n), -ERANGE);
  o.max_message_size = 0;
  o.kind = 0;
  CHECK_ERR(shmem_channel_byte_length(&o, &n), -EINVAL);
  o.kind = 4;
  CHECK_ERR(shmem_channel_byte_length(&o, &n), -EINVAL);
  CHECK_ERR(shmem_channel_byte_length(NULL, &n), -EINVAL);

  void *mem = heap_region(4096);
  shmem_channel_t ch;
  o.kind = SHMEM_CHANNEL_SPSC;
  o.capacity = 4096;
  CHECK_ERR(shmem_channel_init(&ch, mem, 4096, &o), -ERANGE);
  CHECK_ERR(shmem_channel_init(&ch, (char *)mem + 8, 4000, &o), -EINVAL);
  CHECK_ERR(shmem_channel_attach(&ch, mem, 4096), SHMEM_EBADSTATE); /* never formatted */
  free(mem);
}

/* Messages of every length from 0 up, many times round a small ring, in order and whole. */
static void test_order_and_wrap(shmem_channel_kind_t kind) {
  shmem_channel_options_t o = {256, 0, kind};
  uint64_t size;
  shmem_channel_byte_length(&o, &size);
  void *mem = heap_region(size);
  shmem_channel_t tx, rx;
  if (!CHECK_ERR(shmem_channel_init(&tx, mem, size, &o), 0)) return;
  CHECK_ERR(shmem_channel_attach(&rx, mem, size), 0);
  CHECK_EQ_U64(tx.max_message_size, 112);
  unsigned char out[200], in[200];
  uint64_t len = 0;
  CHECK_ERR(shmem_channel_receive(&rx, in, sizeof(in), &len), -EAGAIN);
  int bad = 0;
  uint32_t sent = 0, received = 0;
  for (int round = 0; round < 3000; round++) {
    uint64_t n = (uint64_t)(round * 7) % 113;
    for (uint64_t i = 0; i < n; i++) out[i] = (unsigned char)(sent + i);
    int r = shmem_channel_send(&tx, out, n);
    if (r == 0) sent++;
    else if (r != -EAGAIN) bad++;
    /* Receive every other round, so the ring fills up sometimes and wraps often. */
    if (round % 2 == 1 || r == -EAGAIN) {
      while (shmem_channel_receive(&rx, in, sizeof(in), &len) == 0) {
        uint64_t want = (uint64_t)(received == 0 ? 0 : 0);
        (void)want;
        for (uint64_t i = 0; i < len; i++) {
          if (in[i] != (unsigned char)(received + i)) bad++;
        }
        received++;
      }
    }
  }
  while (shmem_channel_receive(&rx, in, sizeof(in), &len) == 0) received++;
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(received, sent);
  CHECK(sent > 1000);
  shmem_channel_stats_t st;
  shmem_channel_stats(&rx, &st);
  CHECK_EQ_U64(st.messages_sent, sent);
  CHECK_EQ_U64(st.messages_received, sent);
  CHECK_EQ_U64(st.bytes_sent, st.bytes_received);
  CHECK_EQ_U64(st.used, 0);
  CHECK_EQ_INT(st.senders, 1);
  CHECK_EQ_INT(st.receivers, 1);
  shmem_channel_detach(&tx);
  shmem_channel_detach(&rx);
  shmem_channel_attach(&rx, mem, size);
  shmem_channel_stats(&rx, &st);
  CHECK_EQ_INT(st.senders, 0);
  CHECK_EQ_INT(st.receivers, 0);
  free(mem);
}

static void test_sizes_and_zero_copy(void) {
  shmem_channel_options_t o = {1024, 300, SHMEM_CHANNEL_MPSC};
  uint64_t size;
  shmem_channel_byte_length(&o, &size);
  void *mem = heap_region(size);
  shmem_channel_t ch;
  if (!CHECK_ERR(shmem_channel_init(&ch, mem, size, &o), 0)) return;
  unsigned char buf[400] = {0};
  uint64_t len = 0;
  CHECK_ERR(shmem_channel_send(&ch, buf, 301), -EMSGSIZE);
  CHECK_ERR(shmem_channel_send(&ch, buf, 300), 0);
  CHECK_ERR(shmem_channel_receive(&ch, buf, 299, &len), -ENOBUFS);
  CHECK_EQ_U64(len, 300);
  CHECK_ERR(shmem_channel_receive(&ch, buf, 300, &len), 0);
  CHECK_EQ_U64(len, 300);

  void *dst = NULL;
  CHECK_ERR(shmem_channel_reserve(&ch, 200, &dst), 0);
  CHECK_ERR(shmem_channel_reserve(&ch, 1, &dst), -EBUSY);
  CHECK_ERR(shmem_channel_send(&ch, buf, 1), -EBUSY);
  /* A reservation not yet committed is not delivered. */
  CHECK_ERR(shmem_channel_receive(&ch, buf, sizeof(buf), &len), -EAGAIN);
  memcpy(dst, "hello", 5);
  CHECK_ERR(shmem_channel_commit(&ch, 201), -EMSGSIZE);
  CHECK_ERR(shmem_channel_commit(&ch, 5), 0); /* shorter than reserved */
  CHECK_ERR(shmem_channel_commit(&ch, 5), -EINVAL);
  CHECK_ERR(shmem_channel_reserve(&ch, 10, &dst), 0);
  CHECK_ERR(shmem_channel_abort(&ch), 0);
  CHECK_ERR(shmem_channel_send(&ch, "after", 5), 0);
  const void *view = NULL;
  CHECK_ERR(shmem_channel_peek(&ch, &view, &len), 0);
  CHECK(len == 5 && memcmp(view, "hello", 5) == 0);
  CHECK_ERR(shmem_channel_peek(&ch, &view, &len), -EBUSY);
  CHECK_ERR(shmem_channel_release(&ch), 0);
  CHECK_ERR(shmem_channel_release(&ch), -EINVAL);
  CHECK_ERR(shmem_channel_receive(&ch, buf, sizeof(buf), &len), 0);
  CHECK(len == 5 && memcmp(buf, "after", 5) == 0);
  CHECK_ERR(shmem_channel_receive(&ch, buf, sizeof(buf), &len), -EAGAIN);
  int64_t start = shmem_now_ns();
  CHECK_ERR(shmem_channel_receive_wait(&ch, buf, sizeof(buf), &len, start + 20000000), -ETIMEDOUT);
  CHECK(shmem_now_ns() - start >= 19000000);
  /* Fill it, then a send that waits times out. */
  int sent = 0;
  while (shmem_channel_send(&ch, buf, 300) == 0) sent++;
  CHECK(sent >= 2);
  CHECK_ERR(shmem_channel_send_wait(&ch, buf, 300, shmem_now_ns() + 10000000), -ETIMEDOUT);
  volatile int cancel = 1;
  CHECK_ERR(shmem_channel_wait_writable(&ch, 300, -1, &cancel), -ECANCELED);
  shmem_channel_detach(&ch);
  free(mem);
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Random garbage in the header and the records: errors, never a read or write outside the
 * region (ASan watches the heap block's edges). */
static void test_garbage(void) {
  shmem_channel_options_t o = {512, 0, SHMEM_CHANNEL_MPMC};
  uint64_t size;
  shmem_channel_byte_length(&o, &size);
  unsigned char *mem = heap_region(size);
  shmem_channel_t ch;
  if (!CHECK_ERR(shmem_channel_init(&ch, mem, size, &o), 0)) return;
  int errors = 0, other = 0;
  unsigned char buf[512];
  for (int round = 0; round < 20000; round++) {
    if (round % 50 == 0) shmem_channel_init(&ch, mem, size, &o);
    shmem_channel_send(&ch, buf, rng() % 200);
    /* Scribble on a hot header field or on the ring. */
    uint64_t where = rng() % 4;
    uint64_t value = rng();
    if (rng() % 3 == 0) value &= ~(uint64_t)15;
    if (rng() % 2 == 0) value %= 2048;
    if (where == 0) memcpy(mem + 64, &value, 8);          /* tail */
    else if (where == 1) memcpy(mem + 128, &value, 8);    /* head */
    else memcpy(mem + SHMEM_CHANNEL_HEADER_SIZE + rng() % (512 - 8), &value, 8);
    uint64_t len;
    const void *view;
    int r = shmem_channel_receive(&ch, buf, sizeof(buf), &len);
    if (r == SHMEM_EBADSTATE) errors++;
    else if (r != 0 && r != -EAGAIN && r != -ENOBUFS) other++;
    if (shmem_channel_peek(&ch, &view, &len) == 0) {
      CHECK((const unsigned char *)view >= mem + SHMEM_CHANNEL_HEADER_SIZE &&
            (const unsigned char *)view + len <= mem + size);
      shmem_channel_release(&ch);
    }
    void *dst;
    if (shmem_channel_reserve(&ch, 100, &dst) == 0) {
      CHECK((unsigned char *)dst >= mem + SHMEM_CHANNEL_HEADER_SIZE &&
            (unsigned char *)dst + 100 <= mem + size);
      memset(dst, 0xab, 100);
      shmem_channel_commit(&ch, 100);
    }
    shmem_channel_readable(&ch);
  }
  CHECK(errors > 100);
  CHECK_EQ_INT(other, 0);
  /* A damaged header is refused at attach. */
  shmem_channel_init(&ch, mem, size, &o);
  static const size_t fields[] = {0, 4, 8, 12, 16, 25, 32, 40, 44};
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
    shmem_channel_init(&ch, mem, size, &o);
    mem[fields[i]] ^= 0x5a;
    shmem_channel_t other_view;
    CHECK_ERR(shmem_channel_attach(&other_view, mem, size), SHMEM_EBADSTATE);
  }
  shmem_channel_init(&ch, mem, size, &o);
  CHECK_ERR(shmem_channel_attach(&ch, mem, size - 1), SHMEM_EBADSTATE);
  free(mem);
}

/* A child reserves and dies: the receiver skips the abandoned record and goes on. With reap
 * 0 the child stays a zombie (killed, its parent has not waited for it) meanwhile, which is
 * dead all the same. */
static void test_dead_sender(int reap) {
  shmem_channel_options_t o = {4096, 0, SHMEM_CHANNEL_MPSC};
  uint64_t size;
  shmem_channel_byte_length(&o, &size);
  void *mem = shared_region(size);
  shmem_channel_t rx;
  if (!CHECK_ERR(shmem_channel_init(&rx, mem, size, &o), 0)) return;
  pid_t pid = fork();
  if (pid == 0) {
    shmem_channel_t tx;
    void *dst;
    if (shmem_channel_attach(&tx, mem, size) < 0) _exit(2);
    shmem_channel_send(&tx, "before", 6);
    if (shmem_channel_reserve(&tx, 100, &dst) < 0) _exit(3);
    memset(dst, 'x', 50);
    kill(getpid(), SIGKILL);
    _exit(4);
  }
  int status;
  if (reap) {
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
  } else {
    siginfo_t info;
    CHECK(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) == 0); /* dead, left unreaped */
  }
  shmem_channel_t tx;
  shmem_channel_attach(&tx, mem, size);
  CHECK_ERR(shmem_channel_send(&tx, "after", 5), 0);
  char buf[200];
  uint64_t len;
  CHECK_ERR(shmem_channel_receive_wait(&rx, buf, sizeof(buf), &len, shmem_now_ns() + 2000000000),
            0);
  CHECK(len == 6 && memcmp(buf, "before", 6) == 0);
  int64_t start = shmem_now_ns();
  CHECK_ERR(shmem_channel_receive_wait(&rx, buf, sizeof(buf), &len, start + 2000000000), 0);
  CHECK(len == 5 && memcmp(buf, "after", 5) == 0);
  shmem_channel_stats_t st;
  shmem_channel_stats(&rx, &st);
  CHECK_EQ_U64(st.abandoned, 1);
  if (!reap) {
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
  }
  munmap(mem, size);
}

/* Four processes send 20000 numbered messages each; one receiver sees each exactly once,
 * in order per sender. The receiver sleeps when the ring is empty. */
static void test_mpsc_fork(void) {
  enum { SENDERS = 4, EACH = 20000 };
  shmem_channel_options_t o = {8192, 64, SHMEM_CHANNEL_MPSC};
  uint64_t size;
  shmem_channel_byte_length(&o, &size);
  void *mem = shared_region(size);
  shmem_channel_t rx;
  if (!CHECK_ERR(shmem_channel_init(&rx, mem, size, &o), 0)) return;
  pid_t pids[SENDERS];
  for (int s = 0; s < SENDERS; s++) {
    pids[s] = fork();
    if (pids[s] == 0) {
      shmem_channel_t tx;
      if (shmem_channel_attach(&tx, mem, size) < 0) _exit(2);
      for (uint32_t i = 0; i < EACH; i++) {
        uint32_t msg[3] = {(uint32_t)s, i, (uint32_t)s * 2654435761u ^ i};
        if (shmem_channel_send_wait(&tx, msg, sizeof(msg), -1) < 0) _exit(3);
      }
      _exit(0);
    }
  }
  uint32_t next[SENDERS] = {0};
  int bad = 0;
  for (int n = 0; n < SENDERS * EACH; n++) {
    uint32_t msg[3];
    uint64_t len;
    int r = shmem_channel_receive_wait(&rx, msg, sizeof(msg), &len, shmem_now_ns() + 10000000000);
    if (r < 0 || len != sizeof(msg) || msg[0] >= SENDERS) {
      bad++;
      break;
    }
    if (msg[1] != next[msg[0]] || msg[2] != (msg[0] * 2654435761u ^ msg[1])) bad++;
    next[msg[0]]++;
  }
  for (int s = 0; s < SENDERS; s++) {
    int status;
    waitpid(pids[s], &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ_INT(next[s], EACH);
  }
  CHECK_EQ_INT(bad, 0);
  munmap(mem, size);
}

/* mpmc: a receiver dies holding the receive lock (inside a peek); another takes the lock over
 * and gets the message the dead one never released. */
static void test_dead_receiver_lock(void) {
  shmem_channel_options_t o = {4096, 0, SHMEM_CHANNEL_MPMC};
  uint64_t size;
  shmem_channel_byte_length(&o, &size);
  void *mem = shared_region(size);
  shmem_channel_t ch;
  if (!CHECK_ERR(shmem_channel_init(&ch, mem, size, &o), 0)) return;
  CHECK_ERR(shmem_channel_send(&ch, "one", 3), 0);
  CHECK_ERR(shmem_channel_send(&ch, "two", 3), 0);
  pid_t pid = fork();
  if (pid == 0) {
    shmem_channel_t rx;
    const void *view;
    uint64_t len;
    if (shmem_channel_attach(&rx, mem, size) < 0) _exit(2);
    if (shmem_channel_peek(&rx, &view, &len) < 0) _exit(3);
    kill(getpid(), SIGKILL);
    _exit(4);
  }
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status));
  char buf[16];
  uint64_t len;
  CHECK_ERR(shmem_channel_receive_wait(&ch, buf, sizeof(buf), &len, shmem_now_ns() + 2000000000),
            0);
  CHECK(len == 3 && memcmp(buf, "one", 3) == 0);
  CHECK_ERR(shmem_channel_receive(&ch, buf, sizeof(buf), &len), 0);
  CHECK(len == 3 && memcmp(buf, "two", 3) == 0);
  munmap(mem, size);
}

/* Field 22 of /proc/<pid>/stat, as the core records it (low 32 bits); 0 when unreadable. */
static uint32_t start_time_of(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return 0;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (p == NULL) return 0;
  unsigned long long v = 0;
  /* After ')': field 3 (state), then fields 4..21, then 22. */
  if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
                    "%*d %llu", &v) != 1) {
    return 0;
  }
  return (uint32_t)v;
}

/* A lock whose holder died and whose pid now belongs to another, living process: the start
 * time in the lock word tells them apart, and the lock is taken over. A live holder (right
 * start time, or none recorded) keeps it. Both locks: mpmc has a send and a receive lock. A
 * lock word is the holder's pid in the low 32 bits and its start time in the high 32. */
static uint64_t lock_word_of(uint32_t pid, uint32_t start) { return (uint64_t)start << 32 | pid; }

static void test_lock_of_reused_pid(void) {
  uint64_t size;
  shmem_channel_t ch;
  unsigned char *mem = new_channel(&ch, 4096, SHMEM_CHANNEL_MPMC, 0, &size);
  if (mem == NULL) return;
  pid_t other = live_process(); /* it holds nothing */
  uint32_t start = start_time_of(other), mine = start_time_of(getpid());
  CHECK(start != 0 && mine != 0);
  const uint64_t me = lock_word_of((uint32_t)getpid(), mine);
  uint64_t *send_lock = (uint64_t *)(void *)(mem + 88), *recv_lock = (uint64_t *)(void *)(mem + 152);
  char buf[16];
  uint64_t len;
  const void *view;
  /* Its pid with another start time: a dead holder's pid, reused. Taken over; the taker's
   * own word is in the lock while it holds it (a peek holds the receive lock). */
  *send_lock = lock_word_of((uint32_t)other, start + 1);
  CHECK_ERR(shmem_channel_send(&ch, "one", 3), 0);
  CHECK(*send_lock == 0);
  *recv_lock = lock_word_of((uint32_t)other, start - 1);
  CHECK_ERR(shmem_channel_peek(&ch, &view, &len), 0);
  CHECK(len == 3 && memcmp(view, "one", 3) == 0);
  CHECK(*recv_lock == me);
  CHECK_ERR(shmem_channel_release(&ch), 0);
  CHECK(*recv_lock == 0);
  /* Our own pid with another start time is an earlier process's: taken over too, also when
   * that process could not read /proc (start time 0). */
  *send_lock = lock_word_of((uint32_t)getpid(), mine + 1);
  CHECK_ERR(shmem_channel_send(&ch, "two", 3), 0);
  CHECK(*send_lock == 0);
  *send_lock = lock_word_of((uint32_t)getpid(), 0);
  CHECK_ERR(shmem_channel_send(&ch, "2b", 2), 0);
  CHECK(*send_lock == 0);
  /* A release frees only our own word: if another process took the lock over meanwhile
   * (we were wrongly judged dead), its lock stays. */
  CHECK_ERR(shmem_channel_peek(&ch, &view, &len), 0);
  CHECK(len == 3 && memcmp(view, "two", 3) == 0);
  *recv_lock = lock_word_of((uint32_t)other, start);
  CHECK_ERR(shmem_channel_release(&ch), 0);
  CHECK(*recv_lock == lock_word_of((uint32_t)other, start));
  *recv_lock = 0;
  /* Its pid and its start time, or no start time: a live holder. Kept. */
  for (int k = 0; k < 2; k++) {
    uint64_t held = lock_word_of((uint32_t)other, k == 0 ? start : 0);
    *send_lock = held;
    CHECK_ERR(shmem_channel_send(&ch, "three", 5), -EAGAIN);
    CHECK(*send_lock == held);
  }
  *send_lock = 0;
  *recv_lock = lock_word_of((uint32_t)other, start);
  CHECK(shmem_channel_receive(&ch, buf, sizeof(buf), &len) < 0);
  CHECK(*recv_lock == lock_word_of((uint32_t)other, start));
  /* Once it is gone its pid alone says dead. */
  kill(other, SIGKILL);
  waitpid(other, NULL, 0);
  *recv_lock = lock_word_of((uint32_t)other, 0);
  CHECK_ERR(shmem_channel_receive(&ch, buf, sizeof(buf), &len), 0);
  CHECK(len == 2 && memcmp(buf, "2b", 2) == 0);
  free(mem);
}

/* A process whose main thread ended (pthread_exit) while another thread goes on shows as a
 * zombie in /proc/<pid>/stat; with more than one thread counted it is alive: its lock stays. */
static void *pause_forever(void *arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

static void test_lock_of_process_without_main_thread(void) {
  uint64_t size;
  shmem_channel_t ch;
  unsigned char *mem = new_channel(&ch, 4096, SHMEM_CHANNEL_MPSC, 0, &size);
  if (mem == NULL) return;
  pid_t other = fork();
  if (other == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    pthread_t t;
    if (pthread_create(&t, NULL, pause_forever, NULL) != 0) _exit(2);
    pthread_exit(NULL); /* the process goes on in t */
  }
  uint32_t start = 0;
  int zombie = 0;
  for (int i = 0; i < 2000 && !zombie; i++) { /* until its main thread shows as a zombie */
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)other);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
      size_t n = fread(buf, 1, sizeof(buf) - 1, f);
      fclose(f);
      buf[n] = '\0';
      char *p = strrchr(buf, ')');
      zombie = p != NULL && p[1] == ' ' && p[2] == 'Z';
    }
    if (start == 0) start = start_time_of(other);
    if (!zombie) usleep(1000);
  }
  CHECK(zombie);
  uint64_t *send_lock = (uint64_t *)(void *)(mem + 88);
  *send_lock = lock_word_of((uint32_t)other, start);
  CHECK_ERR(shmem_channel_send(&ch, "x", 1), -EAGAIN);
  CHECK(*send_lock == lock_word_of((uint32_t)other, start));
  kill(other, SIGKILL);
  waitpid(other, NULL, 0);
  CHECK_ERR(shmem_channel_send(&ch, "x", 1), 0); /* gone now: taken over */
  free(mem);
}

/* Where /proc does not show a process (not mounted here; hidepid hides other users' too), a
 * lock holder whose pid lives keeps its lock: only kill(pid, 0) decides, and it says alive.
 * A dead holder's pid still says dead. Runs in a child with a mount namespace of its own and
 * /proc unmounted there (needs the rights to make one: skipped without). */
static void test_lock_without_proc(void) {
  uint64_t size;
  shmem_channel_t ch;
  unsigned char *mem = new_channel(&ch, 4096, SHMEM_CHANNEL_MPSC, 1, &size);
  if (mem == NULL) return;
  pid_t other = live_process(), gone = gone_pid();
  uint32_t start = start_time_of(other);
  pid_t pid = fork();
  if (pid == 0) {
    leave_proc_or_skip();
    shmem_channel_t tx;
    if (shmem_channel_attach(&tx, mem, size) < 0) _exit(2);
    uint64_t *send_lock = (uint64_t *)(void *)(mem + 88);
    /* A live holder, with its start time or another one: kept. */
    *send_lock = lock_word_of((uint32_t)other, start);
    if (shmem_channel_send(&tx, "a", 1) != -EAGAIN) _exit(3);
    *send_lock = lock_word_of((uint32_t)other, start + 1);
    if (shmem_channel_send(&tx, "a", 1) != -EAGAIN) _exit(4);
    /* A dead one (a pid that is gone): taken over. */
    *send_lock = lock_word_of((uint32_t)gone, 12345);
    if (shmem_channel_send(&tx, "a", 1) != 0) _exit(5);
    if (*send_lock != 0) _exit(6);
    _exit(0);
  }
  check_no_proc_child(pid, "channel locks");
  kill(other, SIGKILL);
  waitpid(other, NULL, 0);
  munmap(mem, size);
}

/* Two receiver processes on mpmc share 20000 messages: each is delivered once. */
static void test_mpmc_fork(void) {
  enum { COUNT = 20000 };
  shmem_channel_options_t o = {4096, 64, SHMEM_CHANNEL_MPMC};
  uint64_t size;
  shmem_channel_byte_length(&o, &size);
  unsigned char *mem = shared_region(size + 2 * COUNT);
  shmem_channel_t tx;
  if (!CHECK_ERR(shmem_channel_init(&tx, mem, size, &o), 0)) return;
  unsigned char *seen = mem + size; /* one byte per message, counted by the receivers */
  pid_t pids[2];
  for (int r = 0; r < 2; r++) {
    pids[r] = fork();
    if (pids[r] == 0) {
      shmem_channel_t rx;
      if (shmem_channel_attach(&rx, mem, size) < 0) _exit(2);
      for (;;) {
        uint32_t msg;
        uint64_t len;
        int e = shmem_channel_receive_wait(&rx, &msg, sizeof(msg), &len,
                                           shmem_now_ns() + 300000000);
        if (e == -ETIMEDOUT) _exit(0);
        if (e < 0 || len != sizeof(msg)) _exit(3);
        if (msg == UINT32_MAX) _exit(0);
        if (msg < COUNT) __atomic_fetch_add(&seen[msg], 1, __ATOMIC_RELAXED);
      }
    }
  }
  for (uint32_t i = 0; i < COUNT; i++) shmem_channel_send_wait(&tx, &i, sizeof(i), -1);
  uint32_t end = UINT32_MAX;
  shmem_channel_send_wait(&tx, &end, sizeof(end), -1);
  shmem_channel_send_wait(&tx, &end, sizeof(end), -1);
  for (int r = 0; r < 2; r++) {
    int status;
    waitpid(pids[r], &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  int wrong = 0;
  for (int i = 0; i < COUNT; i++) wrong += seen[i] != 1;
  CHECK_EQ_INT(wrong, 0);
  munmap(mem, size + 2 * COUNT);
}

/* A live sender that holds the send lock (stopped, descheduled) and a sender waiting with a
 * deadline: it times out near its deadline and sleeps meanwhile, where before it spun at full
 * speed past the deadline (room in the ring made its wait return at once, and the send's lock
 * try failed again). Once the holder dies the wait takes the lock over and sends. */
static double cpu_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void test_send_wait_stuck_lock(shmem_channel_kind_t kind) {
  uint64_t size;
  shmem_channel_t ch;
  unsigned char *mem = new_channel(&ch, 4096, kind, 0, &size);
  if (mem == NULL) return;
  pid_t other = live_process();
  uint32_t start = start_time_of(other);
  CHECK(start != 0);
  uint64_t *send_lock = (uint64_t *)(void *)(mem + 88);
  *send_lock = lock_word_of((uint32_t)other, start);
  int64_t t0 = shmem_now_ns();
  double c0 = cpu_ms();
  CHECK_ERR(shmem_channel_send_wait(&ch, "x", 1, t0 + 200000000), -ETIMEDOUT);
  double wall = (double)(shmem_now_ns() - t0) / 1e6, cpu = cpu_ms() - c0;
  CHECK(wall >= 199 && wall < 1000);
  /* Spinning would be ~200 ms of CPU (all of the wait); the spin before the sleep and the
   * liveness reads are a few ms. Half the wait tells the two apart with room to spare. */
  CHECK(cpu < 100);
  if (!(wall >= 199 && wall < 1000) || cpu >= 100) {
    fprintf(stderr, "  send_wait on a stuck lock: %.0f ms wall, %.0f ms CPU\n", wall, cpu);
  }
  CHECK(*send_lock == lock_word_of((uint32_t)other, start));
  kill(other, SIGKILL);
  waitpid(other, NULL, 0);
  CHECK_ERR(shmem_channel_send_wait(&ch, "y", 1, shmem_now_ns() + 2000000000), 0);
  CHECK(*send_lock == 0);
  char buf[4];
  uint64_t len;
  CHECK_ERR(shmem_channel_receive(&ch, buf, sizeof(buf), &len), 0);
  CHECK(len == 1 && buf[0] == 'y');
  free(mem);
}

int main(void) {
  test_options();
  test_order_and_wrap(SHMEM_CHANNEL_SPSC);
  test_order_and_wrap(SHMEM_CHANNEL_MPSC);
  test_order_and_wrap(SHMEM_CHANNEL_MPMC);
  test_sizes_and_zero_copy();
  test_garbage();
  test_dead_sender(1);
  test_dead_sender(0);
  test_mpsc_fork();
  test_dead_receiver_lock();
  test_lock_of_reused_pid();
  test_lock_without_proc();
  test_lock_of_process_without_main_thread();
  test_mpmc_fork();
  test_send_wait_stuck_lock(SHMEM_CHANNEL_MPSC);
  test_send_wait_stuck_lock(SHMEM_CHANNEL_MPMC);
  return CHECK_REPORT();
}
