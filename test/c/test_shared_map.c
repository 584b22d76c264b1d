/* The shared map: layout, round trips, limits, full and eviction, TTL, increment, clear,
 * iteration, headers attach must refuse, garbage, readers in other processes while a writer
 * runs, and writers killed with SIGKILL at random points. Regions come from the heap where
 * ASan can see an overrun, and from MAP_SHARED memory where fork() needs to share them. */
#include "no_proc.h" /* first: it needs _GNU_SOURCE */
#include "check.h"
#include "shared_map_internal.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *heap_region(uint64_t size) {
  void *p = aligned_alloc(64, (size_t)shmem__align_up(size, 64));
  if (p != NULL) memset(p, 0xee, (size_t)size); /* init must not rely on zeroed memory */
  return p;
}

static void *shared_region(uint64_t size) {
  void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static shmem_shared_map_options_t opts(uint32_t cap, uint32_t key, uint32_t value, int evict) {
  shmem_shared_map_options_t o = {cap, key, value, (uint32_t)evict, SHMEM_SHARED_MAP_BYTES, 0};
  return o;
}

static unsigned char *new_map(shmem_shared_map_t *m, shmem_shared_map_options_t o, int shared,
                              uint64_t *size) {
  CHECK_ERR(shmem_shared_map_byte_length(&o, size), 0);
  unsigned char *mem = shared ? shared_region(*size) : heap_region(*size);
  if (mem == NULL || !CHECK_ERR(shmem_shared_map_init(m, mem, *size, &o), 0)) return NULL;
  return mem;
}

static int set_s(shmem_shared_map_t *m, const char *k, const char *v) {
  return shmem_shared_map_set(m, k, (uint32_t)strlen(k), 1, v, strlen(v), -1);
}

/* The value of k as a NUL-terminated string in buf, or NULL when absent. */
static const char *get_s(shmem_shared_map_t *m, const char *k, char *buf, size_t size) {
  uint64_t len = 0;
  int r = shmem_shared_map_get(m, k, (uint32_t)strlen(k), buf, size - 1, &len);
  if (r < 0) return NULL;
  buf[len] = '\0';
  return buf;
}

static void test_layout(void) {
  shmem_shared_map_options_t o = opts(100, 16, 100, 1);
  uint64_t n = 0;
  CHECK_ERR(shmem_shared_map_byte_length(&o, &n), 0);
  /* 256 slots (>= 2 x 100), 101 entries of 48 + 16 + 100 = 164 -> 168 bytes. */
  CHECK_EQ_U64(n, SHMEM_SHARED_MAP_HEADER_SIZE + 256 * 8 + 101 * 168);
  o.capacity = 0;
  CHECK_ERR(shmem_shared_map_byte_length(&o, &n), -ERANGE);
  o = opts(1, 0, 1, 0);
  CHECK_ERR(shmem_shared_map_byte_length(&o, &n), -ERANGE);
  o = opts(1, 1, SHMEM_SHARED_MAP_MAX_VALUE_BYTES + 1, 0);
  CHECK_ERR(shmem_shared_map_byte_length(&o, &n), -ERANGE);
  o = opts(1, 1, 1, 2);
  CHECK_ERR(shmem_shared_map_byte_length(&o, &n), -EINVAL);
  CHECK_ERR(shmem_shared_map_byte_length(NULL, &n), -EINVAL);
  o = opts(4, 8, 8, 0);
  shmem_shared_map_t m;
  void *mem = heap_region(4096);
  CHECK_ERR(shmem_shared_map_init(&m, mem, 100, &o), -ERANGE);
  CHECK_ERR(shmem_shared_map_init(&m, (char *)mem + 8, 4000, &o), -EINVAL);
  free(mem);
}

static void test_round_trip(void) {
  shmem_shared_map_t m;
  uint64_t size;
  unsigned char *mem = new_map(&m, opts(8, 16, 32, 1), 0, &size);
  if (mem == NULL) return;
  char buf[64];
  CHECK(get_s(&m, "a", buf, sizeof(buf)) == NULL);
  CHECK_ERR(set_s(&m, "a", "one"), 0);
  CHECK_EQ_STR(get_s(&m, "a", buf, sizeof(buf)), "one");
  CHECK_ERR(set_s(&m, "a", "uno"), 0);
  CHECK_EQ_STR(get_s(&m, "a", buf, sizeof(buf)), "uno");
  CHECK_ERR(set_s(&m, "", "empty key"), 0);
  CHECK_EQ_STR(get_s(&m, "", buf, sizeof(buf)), "empty key");
  /* The empty key as the binding passes it: NULL and length 0 (UBSan: no memcmp/memcpy of
   * NULL, even for 0 bytes). */
  CHECK_ERR(shmem_shared_map_set(&m, NULL, 0, 1, "null key", 8, -1), 0);
  CHECK_EQ_STR(get_s(&m, "", buf, sizeof(buf)), "null key");
  uint64_t null_len = 0;
  CHECK_ERR(shmem_shared_map_get(&m, NULL, 0, buf, sizeof(buf), &null_len), 0);
  CHECK_EQ_U64(null_len, 8);
  CHECK_EQ_INT(shmem_shared_map_has(&m, NULL, 0), 1);
  CHECK_ERR(shmem_shared_map_set(&m, NULL, 0, 1, "empty key", 9, -1), 0);
  CHECK_ERR(set_s(&m, "b", ""), 0);
  CHECK_EQ_STR(get_s(&m, "b", buf, sizeof(buf)), "");
  CHECK_EQ_INT(shmem_shared_map_has(&m, "b", 1), 1);
  CHECK_EQ_INT(shmem_shared_map_has(&m, "c", 1), 0);
  uint64_t len = 0;
  CHECK_ERR(shmem_shared_map_get(&m, "a", 1, buf, 2, &len), -ENOBUFS);
  CHECK_EQ_U64(len, 3);

  /* Limits change nothing. */
  CHECK_ERR(set_s(&m, "a-key-of-17-bytes", "x"), -ERANGE);
  CHECK_ERR(shmem_shared_map_set(&m, "a", 1, 0, buf, 33, -1), -ERANGE);
  CHECK_EQ_STR(get_s(&m, "a", buf, sizeof(buf)), "uno");
  CHECK_ERR(shmem_shared_map_get(&m, "a-key-of-17-bytes", 17, buf, 8, &len), -ERANGE);

  shmem_shared_map_stats_t st;
  shmem_shared_map_stats(&m, &st);
  CHECK_EQ_U64(st.entries, 3);
  CHECK_EQ_U64(st.bytes, 1 + 3 + 0 + 9 + 1 + 0);
  CHECK_EQ_U64(st.capacity, 8);
  CHECK_EQ_U64(st.hits, 8); /* a value too long for the buffer is a hit too */
  CHECK_EQ_U64(st.misses, 1);

  CHECK_EQ_INT(shmem_shared_map_delete(&m, "a", 1), 1);
  CHECK_EQ_INT(shmem_shared_map_delete(&m, "a", 1), 0);
  CHECK(get_s(&m, "a", buf, sizeof(buf)) == NULL);

  /* Iteration sees each key once, with its flags. */
  int seen = 0;
  uint64_t cursor = 0;
  char key[32], value[64];
  shmem_shared_map_item_t it = {key, sizeof(key), value, sizeof(value), 0, 0, 0};
  while (shmem_shared_map_next(&m, &cursor, &it) == 0) {
    seen++;
    CHECK_EQ_INT(it.key_flags, 1);
  }
  CHECK_EQ_INT(seen, 2);
  cursor = 0;
  it.key_size = it.value_size = 0;
  CHECK_ERR(shmem_shared_map_next(&m, &cursor, &it), -ENOBUFS); 

  /* A second view of the same bytes sees the same map. */
  shmem_shared_map_t other;
  CHECK_ERR(shmem_shared_map_attach(&other, mem, size), 0);
  CHECK_EQ_STR(get_s(&other, "", buf, sizeof(buf)), "empty key");
  CHECK_ERR(shmem_shared_map_clear(&other), 0);
  CHECK(get_s(&m, "", buf, sizeof(buf)) == NULL);
  shmem_shared_map_stats(&m, &st);
  CHECK_EQ_U64(st.entries, 0);
  CHECK_EQ_U64(st.bytes, 0);
  shmem_shared_map_detach(&other);
  shmem_shared_map_detach(&m);
  free(mem);
}

static void test_full_and_lru(void) {
  shmem_shared_map_t m;
  uint64_t size;
  char buf[64];
  unsigned char *mem = new_map(&m, opts(4, 8, 8, SHMEM_SHARED_MAP_EVICT_NONE), 0, &size);
  if (mem == NULL) return;
  CHECK_ERR(set_s(&m, "a", "1"), 0);
  CHECK_ERR(set_s(&m, "b", "2"), 0);
  CHECK_ERR(set_s(&m, "c", "3"), 0);
  CHECK_ERR(set_s(&m, "d", "4"), 0);
  CHECK_ERR(set_s(&m, "e", "5"), SHMEM_EFULL);
  CHECK_ERR(set_s(&m, "a", "11"), 0); /* a key already there can change when full */
  CHECK_EQ_STR(get_s(&m, "a", buf, sizeof(buf)), "11");
  CHECK(get_s(&m, "e", buf, sizeof(buf)) == NULL);
  /* Full, but an expired key makes room. */
  CHECK_ERR(shmem_shared_map_set(&m, "b", 1, 0, "x", 1, 1), 0);
  struct timespec ts = {0, 5000000};
  nanosleep(&ts, NULL);
  CHECK_ERR(set_s(&m, "e", "5"), 0);
  shmem_shared_map_stats_t st;
  shmem_shared_map_stats(&m, &st);
  CHECK_EQ_U64(st.expirations, 1);
  CHECK_EQ_U64(st.entries, 4);
  free(mem);

  mem = new_map(&m, opts(4, 8, 8, SHMEM_SHARED_MAP_EVICT_LRU), 0, &size);
  if (mem == NULL) return;
  set_s(&m, "a", "1");
  set_s(&m, "b", "2");
  set_s(&m, "c", "3");
  set_s(&m, "d", "4");
  CHECK(get_s(&m, "a", buf, sizeof(buf)) != NULL);
  CHECK(get_s(&m, "c", buf, sizeof(buf)) != NULL);
  CHECK_ERR(set_s(&m, "e", "5"), 0); /* b: the oldest not read */
  CHECK(get_s(&m, "b", buf, sizeof(buf)) == NULL);
  CHECK_ERR(set_s(&m, "f", "6"), 0); /* d */
  CHECK(get_s(&m, "d", buf, sizeof(buf)) == NULL);
  CHECK(get_s(&m, "a", buf, sizeof(buf)) != NULL);
  CHECK(get_s(&m, "c", buf, sizeof(buf)) != NULL);
  shmem_shared_map_stats(&m, &st);
  CHECK_EQ_U64(st.evictions, 2);
  CHECK_EQ_U64(st.entries, 4);
  /* Many more keys than room: the count stays at the capacity. */
  for (int i = 0; i < 1000; i++) {
    char k[16];
    snprintf(k, sizeof(k), "k%d", i);
    CHECK_ERR(set_s(&m, k, "v"), 0);
    if (i % 3 == 0) shmem_shared_map_delete(&m, k, (uint32_t)strlen(k));
  }
  shmem_shared_map_stats(&m, &st);
  CHECK(st.entries <= 4);
  free(mem);
}

static void test_ttl_increment(void) {
  shmem_shared_map_t m;
  uint64_t size;
  char buf[64];
  shmem_shared_map_options_t o = opts(16, 8, 24, 1);
  o.default_ttl_ms = 2;
  unsigned char *mem = new_map(&m, o, 0, &size);
  if (mem == NULL) return;
  CHECK_ERR(set_s(&m, "short", "x"), 0);                              /* the default: 2 ms */
  CHECK_ERR(shmem_shared_map_set(&m, "never", 5, 0, "y", 1, 0), 0);    /* no expiry */
  CHECK_ERR(shmem_shared_map_set(&m, "long", 4, 0, "z", 1, 60000), 0); /* a minute */
  CHECK(get_s(&m, "short", buf, sizeof(buf)) != NULL);
  struct timespec ts = {0, 10000000};
  nanosleep(&ts, NULL);
  CHECK(get_s(&m, "short", buf, sizeof(buf)) == NULL);
  CHECK_EQ_INT(shmem_shared_map_has(&m, "short", 5), 0);
  CHECK(get_s(&m, "never", buf, sizeof(buf)) != NULL);
  CHECK(get_s(&m, "long", buf, sizeof(buf)) != NULL);
  uint64_t removed = 0;
  CHECK_ERR(shmem_shared_map_purge(&m, &removed), 0);
  CHECK_EQ_U64(removed, 1);

  int64_t v = 0;
  CHECK_ERR(shmem_shared_map_increment(&m, "n", 1, 0, 5, INT64_MAX, &v), 0);
  CHECK_EQ_INT(v, 5);
  CHECK_ERR(shmem_shared_map_increment(&m, "n", 1, 0, -7, INT64_MAX, &v), 0);
  CHECK_EQ_INT(v, -2);
  CHECK_EQ_STR(get_s(&m, "n", buf, sizeof(buf)), "-2");
  CHECK_ERR(shmem_shared_map_increment(&m, "n", 1, 0, 10, 5, &v), -ERANGE);
  CHECK_EQ_STR(get_s(&m, "n", buf, sizeof(buf)), "-2");
  CHECK_ERR(shmem_shared_map_increment(&m, "never", 5, 0, 1, INT64_MAX, &v), -EINVAL);
  set_s(&m, "big", "9223372036854775807");
  CHECK_ERR(shmem_shared_map_increment(&m, "big", 3, 0, 1, INT64_MAX, &v), -ERANGE);
  CHECK_ERR(shmem_shared_map_increment(&m, "big", 3, 0, -1, INT64_MAX, &v), 0);
  set_s(&m, "bad", "12a");
  CHECK_ERR(shmem_shared_map_increment(&m, "bad", 3, 0, 1, INT64_MAX, &v), -EINVAL);
  set_s(&m, "neg", "-");
  CHECK_ERR(shmem_shared_map_increment(&m, "neg", 3, 0, 1, INT64_MAX, &v), -EINVAL);
  free(mem);
}

/* Every header field attach checks, one at a time. */
static void test_bad_headers(void) {
  shmem_shared_map_t m;
  uint64_t size;
  unsigned char *mem = new_map(&m, opts(8, 8, 8, 1), 0, &size);
  if (mem == NULL) return;
  static const int fields[] = {M_MAGIC,    M_VERSION,   M_HEADER_SIZE, M_EVICT,
                               M_CAPACITY, M_SLOTS,     M_ENTRY_SIZE,  M_MAX_KEY,
                               M_MAX_VALUE, M_ENCODING, M_BYTE_LENGTH};
  for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
    uint32_t *w = (uint32_t *)(void *)(mem + fields[f]);
    uint32_t saved = *w;
    *w = saved + 7;
    CHECK_ERR(shmem_shared_map_attach(&m, mem, size), SHMEM_EBADSTATE);
    *w = 0xffffffffu;
    CHECK_ERR(shmem_shared_map_attach(&m, mem, size), SHMEM_EBADSTATE);
    *w = saved;
  }
  CHECK_ERR(shmem_shared_map_attach(&m, mem, size), 0);
  CHECK_ERR(shmem_shared_map_attach(&m, mem, size - 1), SHMEM_EBADSTATE);
  CHECK_ERR(shmem_shared_map_attach(&m, mem, 100), SHMEM_EBADSTATE);
  free(mem);
}

/* Garbage in the index and entries: every call returns one of its codes, no access strays
 * (ASan watches the heap region's ends). */
static void test_garbage(void) {
  shmem_shared_map_t m;
  uint64_t size;
  unsigned char *mem = new_map(&m, opts(16, 8, 8, 1), 0, &size);
  if (mem == NULL) return;
  srand(7);
  char buf[16];
  for (int round = 0; round < 200; round++) {
    for (uint64_t b = SHMEM_SHARED_MAP_HEADER_SIZE; b < size; b++) {
      if (rand() % 7 == 0) mem[b] = (unsigned char)rand();
    }
    if (round % 3 == 0) memset(mem + M_LOCK, 0, 64); /* sometimes nobody holds the lock */
    m.lock_timeout_ns = 0;
    uint64_t len;
    char k[4] = {(char)('a' + round % 5), 0, 0, 0};
    int r = shmem_shared_map_get(&m, k, 1, buf, sizeof(buf), &len);
    CHECK(r == 0 || r == -ENOENT || r == -ENOBUFS || r == SHMEM_EBADSTATE);
    r = shmem_shared_map_set(&m, k, 1, 0, "v", 1, -1);
    CHECK(r == 0 || r == SHMEM_EBADSTATE || r == -ETIMEDOUT || r == SHMEM_EFULL);
    r = shmem_shared_map_delete(&m, k, 1);
    CHECK(r == 0 || r == 1 || r == SHMEM_EBADSTATE || r == -ETIMEDOUT);
    int64_t v;
    r = shmem_shared_map_increment(&m, "n", 1, 0, 1, INT64_MAX, &v);
    CHECK(r == 0 || r == -EINVAL || r == -ERANGE || r == SHMEM_EBADSTATE || r == -ETIMEDOUT ||
          r == SHMEM_EFULL);
    uint64_t cursor = 0;
    char key[8], value[8];
    shmem_shared_map_item_t it = {key, sizeof(key), value, sizeof(value), 0, 0, 0};
    int walked = 0;
    while ((r = shmem_shared_map_next(&m, &cursor, &it)) == 0) walked++;
    CHECK(r == -ENOENT || r == -ENOBUFS);
    CHECK(walked <= (int)m.slots);
  }
  /* Repaired by a writer that takes the lock from a dead holder: usable again. */
  memset(mem + M_LOCK, 0, 8);
  *(uint64_t *)(void *)(mem + M_LOCK) = 0x7fffffff; /* a pid nobody has */
  m.lock_timeout_ns = 10 * 1000000000ll;
  CHECK_ERR(shmem_shared_map_set(&m, "zz", 2, 0, "ok", 2, 0), 0);
  char out[16];
  CHECK_EQ_STR(get_s(&m, "zz", out, sizeof(out)), "ok");
  free(mem);
}

/* ---- processes ------------------------------------------------------------------------------ */

#define VALUE_SIZE 64

/* A value that carries its own check: its 8-byte serial, then bytes made from it and the key,
 * then a 32-bit sum of everything before it. */
static void make_value(unsigned char *v, uint64_t serial, uint32_t key) {
  memcpy(v, &serial, 8);
  for (int i = 8; i < VALUE_SIZE - 4; i++) v[i] = (unsigned char)(serial * 31 + key + i);
  uint32_t sum = 0;
  for (int i = 0; i < VALUE_SIZE - 4; i++) sum = sum * 131 + v[i];
  memcpy(v + VALUE_SIZE - 4, &sum, 4);
}

static int value_ok(const unsigned char *v, uint64_t len, uint32_t key) {
  if (len != VALUE_SIZE) return 0;
  uint64_t serial;
  memcpy(&serial, v, 8);
  unsigned char want[VALUE_SIZE];
  make_value(want, serial, key);
  return memcmp(want, v, VALUE_SIZE) == 0;
}

#define KEYS 48

static void writer_loop(shmem_shared_map_t *m, uint64_t start, uint64_t rounds) {
  unsigned char v[VALUE_SIZE];
  for (uint64_t s = start; rounds == 0 || s < start + rounds; s++) {
    uint32_t key = (uint32_t)(s * 7919 % KEYS);
    make_value(v, s, key);
    if (s % 17 == 0) shmem_shared_map_delete(m, &key, 4);
    else shmem_shared_map_set(m, &key, 4, 0, v, VALUE_SIZE, s % 5 == 0 ? 1 : 0);
    if (s % 997 == 0) shmem_shared_map_clear(m);
  }
}

/* Reads every key for a while: exit status 0, or 1 when a value was torn. */
static int reader_loop(shmem_shared_map_t *m, int ms) {
  unsigned char v[VALUE_SIZE + 8];
  int64_t end = shmem_now_ns() + (int64_t)ms * 1000000;
  uint64_t n = 0;
  while (shmem_now_ns() < end) {
    for (uint32_t key = 0; key < KEYS; key++, n++) {
      uint64_t len = 0;
      int r = shmem_shared_map_get(m, &key, 4, v, sizeof(v), &len);
      if (r == 0 && !value_ok(v, len, key)) return 1;
      if (r != 0 && r != -ENOENT) return 2;
    }
  }
  return n > 0 ? 0 : 3;
}

static void test_readers_and_writer(void) {
  shmem_shared_map_t m;
  uint64_t size;
  unsigned char *mem = new_map(&m, opts(32, 4, VALUE_SIZE, 1), 1, &size);
  if (mem == NULL) return;
  pid_t pids[3];
  for (int p = 0; p < 3; p++) {
    pids[p] = fork();
    if (pids[p] == 0) {
      shmem_shared_map_t v;
      if (shmem_shared_map_attach(&v, mem, size) < 0) _exit(9);
      _exit(p == 0 ? (writer_loop(&v, 1, 200000), 0) : reader_loop(&v, 400));
    }
  }
  for (int p = 0; p < 3; p++) {
    int status = 0;
    waitpid(pids[p], &status, 0);
    CHECK(WIFEXITED(status));
    CHECK_EQ_INT(WEXITSTATUS(status), 0);
  }
  munmap(mem, size);
}

/* Checks every key holds a whole value and the counters agree with a walk. */
static void check_consistent(shmem_shared_map_t *m) {
  unsigned char v[VALUE_SIZE + 8];
  for (uint32_t key = 0; key < KEYS; key++) {
    uint64_t len = 0;
    int r = shmem_shared_map_get(m, &key, 4, v, sizeof(v), &len);
    CHECK(r == 0 || r == -ENOENT);
    if (r == 0) CHECK(value_ok(v, len, key));
  }
  uint64_t cursor = 0, walked = 0;
  unsigned char key[8], value[VALUE_SIZE];
  shmem_shared_map_item_t it = {key, sizeof(key), value, sizeof(value), 0, 0, 0};
  while (shmem_shared_map_next(m, &cursor, &it) == 0) walked++;
  shmem_shared_map_stats_t st;
  shmem_shared_map_stats(m, &st);
  CHECK(st.entries >= walked); /* expired keys are counted until a writer removes them */
  CHECK(st.entries <= st.capacity);
}

static void test_killed_writers(void) {
  shmem_shared_map_t m;
  uint64_t size;
  unsigned char *mem = new_map(&m, opts(32, 4, VALUE_SIZE, 1), 1, &size);
  if (mem == NULL) return;
  srand((unsigned)getpid());
  for (int round = 0; round < 40; round++) {
    pid_t reader = fork();
    if (reader == 0) {
      shmem_shared_map_t v;
      if (shmem_shared_map_attach(&v, mem, size) < 0) _exit(9);
      _exit(reader_loop(&v, 30));
    }
    pid_t writer = fork();
    if (writer == 0) {
      shmem_shared_map_t v;
      if (shmem_shared_map_attach(&v, mem, size) < 0) _exit(9);
      writer_loop(&v, (uint64_t)round * 1000000, 0);
      _exit(0);
    }
    struct timespec ts = {0, (long)(rand() % 3000) * 1000 + 200000};
    nanosleep(&ts, NULL);
    kill(writer, SIGKILL);
    int status = 0;
    waitpid(writer, &status, 0);
    /* The next writer takes the lock over when the killed one held it. */
    unsigned char v[VALUE_SIZE];
    uint32_t key = 1;
    make_value(v, 5, key);
    CHECK_ERR(shmem_shared_map_set(&m, &key, 4, 0, v, VALUE_SIZE, 0), 0);
    check_consistent(&m);
    waitpid(reader, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK_EQ_INT(WEXITSTATUS(status), 0);
  }
  shmem_shared_map_stats_t st;
  shmem_shared_map_stats(&m, &st);
  CHECK(st.recoveries > 0); /* a writer spends nearly all its time holding the lock */
  printf("killed writers: %llu of 40 recovered\n", (unsigned long long)st.recoveries);
  munmap(mem, size);
}

/* A writer killed in the middle of an index rebuild: the keys it had taken out come back. */
static void test_killed_rebuild(void) {
  shmem_shared_map_t m;
  uint64_t size;
  unsigned char *mem = new_map(&m, opts(32, 4, VALUE_SIZE, 1), 1, &size);
  if (mem == NULL) return;
  unsigned char v[VALUE_SIZE];
  for (uint32_t key = 0; key < 20; key++) {
    make_value(v, key, key);
    shmem_shared_map_set(&m, &key, 4, 0, v, VALUE_SIZE, 0);
  }
  /* What a rebuild leaves when killed just after it emptied the index. */
  for (uint32_t i = 0; i < m.nentries; i++) {
    entry_t *e = entry_at(&m, i);
    e->mark = (e->slot < m.slots && (uint32_t)m.index[e->slot] == i + 1) ? 1 : 0;
  }
  *m32(&m, M_REBUILDING) = 1;
  *m32(&m, M_GENERATION) |= 1;
  memset(m.index, 0, (size_t)m.slots * 8);
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, NULL, 0);
  *m64(&m, M_LOCK) = (uint32_t)dead;
  uint32_t key = 99;
  make_value(v, 1, key);
  CHECK_ERR(shmem_shared_map_set(&m, &key, 4, 0, v, VALUE_SIZE, 0), 0);
  for (key = 0; key < 20; key++) {
    uint64_t len = 0;
    unsigned char out[VALUE_SIZE];
    CHECK_ERR(shmem_shared_map_get(&m, &key, 4, out, sizeof(out), &len), 0);
    CHECK(value_ok(out, len, key));
  }
  shmem_shared_map_stats_t st;
  shmem_shared_map_stats(&m, &st);
  CHECK_EQ_U64(st.entries, 21);
  CHECK_EQ_U64(st.recoveries, 1);
  CHECK_EQ_INT(*m32(&m, M_GENERATION) & 1, 0);
  munmap(mem, size);
}

int main(void) {
  test_layout();
  test_round_trip();
  test_full_and_lru();
  test_ttl_increment();
  test_bad_headers();
  test_garbage();
  test_readers_and_writer();
  test_killed_writers();
  test_killed_rebuild();
  return CHECK_REPORT();
}
