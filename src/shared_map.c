/* Shared maps, part 1: the layout, attach, and the reads, which take no lock and never wait
 * (docs/map-format.md).
 *
 * A read hashes the key, probes the index (linear probing over a power-of-two table of
 * 64-bit words), and copies the entry a slot names between two loads of the entry's sequence
 * counter; it keeps the copy only when the counter was even and did not move, and the slot
 * still names the entry afterwards. Writers never change a published entry (part 2,
 * src/shared_map_write.c), so a retry is needed only when a writer freed and reused the
 * entry under the read. A miss is believed only when the header's generation (odd while a
 * writer clears or rebuilds the index) was even and unchanged across the probe. Every retry
 * is bounded: a read of garbage, or one that keeps losing to writers, ends.
 *
 * Every value read from the shared memory is checked before it addresses anything: an entry
 * number against the entry count, a length against the map's maxima (which attach copied
 * into the view), so that no read lands outside the region whatever the bytes hold. */
#include "shared_map_internal.h"

#include <sched.h>
#include <time.h>
#include <unistd.h>
#if SHMEM_LINUX
#include <sys/random.h>
#endif

#define READ_TRIES 256  /* probes of one read before it reports a miss */
#define ENTRY_TRIES 16  /* re-reads of one entry whose counter moves or stays odd */
#define FLUSH_EVERY 64  /* hits or misses a view counts before it adds them to the header */

/* ---- layout -------------------------------------------------------------------------------- */

typedef struct layout_s {
  uint32_t slots, entry_size, nentries;
  uint64_t byte_length;
} layout_t;

static int layout_of(uint32_t capacity, uint32_t max_key, uint32_t max_value, layout_t *l) {
  if (capacity == 0 || capacity > SHMEM_SHARED_MAP_MAX_CAPACITY) return -ERANGE;
  if (max_key == 0 || max_key > SHMEM_SHARED_MAP_MAX_KEY_BYTES) return -ERANGE;
  if (max_value > SHMEM_SHARED_MAP_MAX_VALUE_BYTES) return -ERANGE;
  uint32_t slots = MIN_SLOTS;
  while (slots < 2 * capacity) slots <<= 1;
  l->slots = slots;
  l->nentries = capacity + 1; /* one spare: a set writes the new value beside the old */
  l->entry_size = (uint32_t)shmem__align_up(
      (uint64_t)SHMEM_SHARED_MAP_ENTRY_HEADER + max_key + max_value, ENTRY_ALIGN);
  l->byte_length = SHMEM_SHARED_MAP_HEADER_SIZE + (uint64_t)slots * 8 +
                   (uint64_t)l->nentries * l->entry_size;
  return 0;
}

static int resolve(const shmem_shared_map_options_t *o, layout_t *l) {
  if (o == NULL) return -EINVAL;
  if (o->evict > SHMEM_SHARED_MAP_EVICT_LRU || o->encoding > SHMEM_SHARED_MAP_V8) return -EINVAL;
  return layout_of(o->capacity, o->max_key_bytes, o->max_value_bytes, l);
}

int shmem_shared_map_byte_length(const shmem_shared_map_options_t *opts, uint64_t *out) {
  layout_t l;
  int r = resolve(opts, &l);
  if (r < 0) return r;
  *out = l.byte_length;
  return 0;
}

/* A seed for the key hash of a new map, so that keys chosen to collide in one map do not in
 * another (hash flooding). */
static uint64_t new_seed(void *mem) {
  uint64_t seed = 0;
#if SHMEM_LINUX
  if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed)) return seed;
#endif
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() ^ (uintptr_t)mem;
}

int shmem_shared_map_init(shmem_shared_map_t *m, void *mem, uint64_t size,
                          const shmem_shared_map_options_t *opts) {
  layout_t l;
  int r = resolve(opts, &l);
  if (r < 0) return r;
  if (mem == NULL || ((uintptr_t)mem & 63) != 0) return -EINVAL;
  if (size < l.byte_length) return -ERANGE;
  unsigned char *base = mem;
  /* Whoever attaches waits for the magic, which goes in last. */
  STORE((uint32_t *)(void *)base, 0, SEQ);
  memset(base + 4, 0, SHMEM_SHARED_MAP_HEADER_SIZE - 4 + (uint64_t)l.slots * 8);
  uint32_t *w = (uint32_t *)(void *)base;
  uint64_t *d = (uint64_t *)(void *)base;
  w[M_VERSION / 4] = SHMEM_SHARED_MAP_VERSION;
  w[M_HEADER_SIZE / 4] = SHMEM_SHARED_MAP_HEADER_SIZE;
  w[M_EVICT / 4] = opts->evict;
  d[M_BYTE_LENGTH / 8] = l.byte_length;
  w[M_CAPACITY / 4] = opts->capacity;
  w[M_SLOTS / 4] = l.slots;
  w[M_ENTRY_SIZE / 4] = l.entry_size;
  w[M_MAX_KEY / 4] = opts->max_key_bytes;
  w[M_MAX_VALUE / 4] = opts->max_value_bytes;
  w[M_ENCODING / 4] = opts->encoding;
  d[M_DEFAULT_TTL / 8] = opts->default_ttl_ms;
  d[M_SEED / 8] = new_seed(mem);
  /* Every entry free, chained in order. Only the headers: the bytes behind them are written
   * before anyone reads them, and leaving them alone leaves their pages untouched. */
  unsigned char *entries = base + SHMEM_SHARED_MAP_HEADER_SIZE + (uint64_t)l.slots * 8;
  for (uint32_t i = 0; i < l.nentries; i++) {
    entry_t *e = (entry_t *)(void *)(entries + (uint64_t)i * l.entry_size);
    memset(e, 0, sizeof(*e));
    e->next_free = i + 1 < l.nentries ? i + 2 : 0;
    e->slot = NO_SLOT;
  }
  w[M_FREE_HEAD / 4] = 1;
  STORE(&w[M_MAGIC / 4], SHMEM_SHARED_MAP_MAGIC, REL);
  return shmem_shared_map_attach(m, mem, size);
}

int shmem_shared_map_attach(shmem_shared_map_t *m, void *mem, uint64_t size) {
  memset(m, 0, sizeof(*m));
  m->lock_timeout_ns = 10 * 1000000000ll;
  if (mem == NULL || ((uintptr_t)mem & 63) != 0) return -EINVAL;
  if (size < SHMEM_SHARED_MAP_HEADER_SIZE) return SHMEM_EBADSTATE;
  unsigned char *base = mem;
  const uint32_t *w = (const uint32_t *)(const void *)base;
  const uint64_t *d = (const uint64_t *)(const void *)base;
  if (LOAD(&w[M_MAGIC / 4], ACQ) != SHMEM_SHARED_MAP_MAGIC) return SHMEM_EBADSTATE;
  uint32_t capacity = LOAD(&w[M_CAPACITY / 4], RLX);
  uint32_t max_key = LOAD(&w[M_MAX_KEY / 4], RLX);
  uint32_t max_value = LOAD(&w[M_MAX_VALUE / 4], RLX);
  uint32_t evict = LOAD(&w[M_EVICT / 4], RLX);
  uint32_t encoding = LOAD(&w[M_ENCODING / 4], RLX);
  layout_t l;
  if (LOAD(&w[M_VERSION / 4], RLX) != SHMEM_SHARED_MAP_VERSION ||
      LOAD(&w[M_HEADER_SIZE / 4], RLX) != SHMEM_SHARED_MAP_HEADER_SIZE ||
      evict > SHMEM_SHARED_MAP_EVICT_LRU || encoding > SHMEM_SHARED_MAP_V8 ||
      layout_of(capacity, max_key, max_value, &l) < 0) {
    return SHMEM_EBADSTATE;
  }
  if (LOAD(&w[M_SLOTS / 4], RLX) != l.slots || LOAD(&w[M_ENTRY_SIZE / 4], RLX) != l.entry_size ||
      LOAD(&d[M_BYTE_LENGTH / 8], RLX) != l.byte_length || l.byte_length > size) {
    return SHMEM_EBADSTATE;
  }
  /* From here on these come from our copy: a peer rewriting them later changes nothing. */
  m->capacity = capacity;
  m->max_key_bytes = max_key;
  m->max_value_bytes = max_value;
  m->evict = evict;
  m->encoding = encoding;
  m->default_ttl_ms = LOAD(&d[M_DEFAULT_TTL / 8], RLX);
  m->byte_length = l.byte_length;
  m->base = base;
  m->index = (uint64_t *)(void *)(base + SHMEM_SHARED_MAP_HEADER_SIZE);
  m->entries = base + SHMEM_SHARED_MAP_HEADER_SIZE + (uint64_t)l.slots * 8;
  m->slots = l.slots;
  m->nentries = l.nentries;
  m->entry_size = l.entry_size;
  m->seed = LOAD(&d[M_SEED / 8], RLX);
  return 0;
}

void shmem_shared_map_detach(shmem_shared_map_t *m) {
  if (m->base == NULL) return;
  shmem__shared_map_flush(m);
  if (m->owns_lock) {
    m->held = 1;
    shmem_shared_map_unlock(m);
  }
  m->base = NULL;
  m->index = NULL;
  m->entries = NULL;
}

/* ---- hashing, time, counters --------------------------------------------------------------- */

static inline uint64_t fmix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

uint64_t shmem__shared_map_hash(uint64_t seed, const void *key, uint32_t len) {
  const unsigned char *p = key;
  uint64_t h = seed ^ ((uint64_t)len * 0x9e3779b97f4a7c15ull);
  while (len >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    h = (h ^ fmix(v ^ 0x2545f4914f6cdd1dull)) * 0x9e3779b97f4a7c15ull;
    h = h << 29 | h >> 35;
    p += 8;
    len -= 8;
  }
  uint64_t tail = 0;
  for (uint32_t i = 0; i < len; i++) tail |= (uint64_t)p[i] << (8 * i);
  return fmix(h ^ fmix(tail ^ 0x94d049bb133111ebull));
}

uint64_t shmem__shared_map_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void shmem__shared_map_flush(shmem_shared_map_t *m) {
  if (m->pending_hits) __atomic_fetch_add(m64(m, M_HITS), m->pending_hits, RLX);
  if (m->pending_misses) __atomic_fetch_add(m64(m, M_MISSES), m->pending_misses, RLX);
  m->pending_hits = m->pending_misses = 0;
}

static void count(shmem_shared_map_t *m, int hit) {
  uint32_t n = hit ? ++m->pending_hits : ++m->pending_misses;
  if (n >= FLUSH_EVERY) shmem__shared_map_flush(m);
}

/* ---- reads --------------------------------------------------------------------------------- */

/* What a read found: the entry and its slot, and what it copied. */
typedef struct found_s {
  uint32_t entry, slot;
  uint64_t value_len, expires;
  uint32_t key_flags;
} found_t;

/* Reads entry i, named by w in slot pos, for key: 1 it is key's (its value copied into buf
 * when it fits in buf_size), 0 it is another key's, -EAGAIN the slot moved under the read
 * (probe again), SHMEM_EBADSTATE. */
static int read_entry(const shmem_shared_map_t *m, uint32_t i, uint32_t pos, uint64_t w,
                      const void *key, uint32_t key_len, uint64_t hash, void *buf,
                      uint64_t buf_size, found_t *f) {
  entry_t *e = entry_at(m, i);
  for (int tries = 0; tries < ENTRY_TRIES; tries++) {
    uint32_t s1 = LOAD(&e->seq, ACQ);
    if (s1 & 1) { /* being written: it was freed and is being reused, or garbage */
      map_relax();
      if (LOAD(&m->index[pos], ACQ) != w) return -EAGAIN;
      continue;
    }
    uint32_t klen = LOAD(&e->key_len, RLX);
    uint32_t vlen = LOAD(&e->value_len, RLX);
    int match = klen == key_len && LOAD(&e->hash, RLX) == hash;
    int bad = vlen > m->max_value_bytes;
    /* klen == key_len <= max_key_bytes: the compare stays in the entry. */
    /* key is NULL for the empty key: memcmp() must not see it even with length 0. */
    if (match && key_len > 0) match = memcmp(key_of(e), key, key_len) == 0;
    if (match && !bad) {
      f->expires = LOAD(&e->expires, RLX);
      f->key_flags = LOAD(&e->key_flags, RLX);
      if (buf != NULL && vlen <= buf_size) memcpy(buf, value_of(m, e), vlen);
    }
    __atomic_thread_fence(ACQ);
    if (LOAD(&e->seq, RLX) != s1) continue;
    if (LOAD(&m->index[pos], ACQ) != w) return -EAGAIN;
    if (match && bad) return SHMEM_EBADSTATE;
    if (!match) return 0;
    f->entry = i;
    f->slot = pos;
    f->value_len = vlen;
    return 1;
  }
  /* Odd or moving all along while the slot kept naming it: no writer does that to a
   * published entry (it would be garbage, or a writer that died mid-write). Not this key. */
  return 0;
}

/* One probe for key: 1 found, 0 absent, -EAGAIN probe again, SHMEM_EBADSTATE. */
static int probe(const shmem_shared_map_t *m, const void *key, uint32_t key_len, uint64_t hash,
                 void *buf, uint64_t buf_size, found_t *f) {
  uint32_t mask = m->slots - 1, tag = (uint32_t)(hash >> 32);
  uint32_t pos = (uint32_t)hash & mask;
  for (uint32_t n = 0; n < m->slots; n++, pos = (pos + 1) & mask) {
    uint64_t w = LOAD(&m->index[pos], ACQ);
    if (w == SLOT_EMPTY) return 0;
    uint32_t low = (uint32_t)w;
    if (low == 0 || (uint32_t)(w >> 32) != tag) continue;
    if (low > m->nentries) return SHMEM_EBADSTATE;
    int r = read_entry(m, low - 1, pos, w, key, key_len, hash, buf, buf_size, f);
    if (r != 0) return r;
  }
  return 0;
}

/* Finds key: 1 found (not expired), 0 absent or expired, SHMEM_EBADSTATE. */
static int find(shmem_shared_map_t *m, const void *key, uint32_t key_len, void *buf,
                uint64_t buf_size, found_t *f) {
  uint64_t hash = shmem__shared_map_hash(m->seed, key, key_len);
  uint32_t *gen = m32(m, M_GENERATION);
  for (int tries = 0; tries < READ_TRIES; tries++) {
    uint32_t g = LOAD(gen, ACQ);
    int r = probe(m, key, key_len, hash, buf, buf_size, f);
    if (r == 1) {
      if (f->expires != 0 && f->expires <= shmem__shared_map_now_ms()) return 0;
      return 1;
    }
    if (r == SHMEM_EBADSTATE) return r;
    __atomic_thread_fence(ACQ);
    /* A miss counts only when no writer cleared or rebuilt the index meanwhile. */
    if (r == 0 && (g & 1) == 0 && LOAD(gen, RLX) == g) return 0;
    if (tries >= 32) sched_yield();
    else map_relax();
  }
  return 0; /* kept losing to writers (or a dead one's odd generation): a miss */
}

static int check_key(const shmem_shared_map_t *m, const void *key, uint32_t key_len) {
  if (m->base == NULL || (key == NULL && key_len > 0)) return -EINVAL;
  return key_len > m->max_key_bytes ? -ERANGE : 0;
}

int shmem_shared_map_get(shmem_shared_map_t *m, const void *key, uint32_t key_len, void *buf,
                         uint64_t buf_size, uint64_t *len) {
  int r = check_key(m, key, key_len);
  if (r < 0) return r;
  found_t f;
  r = find(m, key, key_len, buf, buf_size, &f);
  if (r < 0) return r;
  count(m, r);
  if (r == 0) return -ENOENT;
  *len = f.value_len;
  if (f.value_len > buf_size) return -ENOBUFS;
  /* CLOCK's reference bit: stored only when clear, so a hot key's line is not written by
   * every read. A stray store on an entry reused meanwhile only spares another key once. */
  entry_t *e = entry_at(m, f.entry);
  if (LOAD(&e->accessed, RLX) == 0) STORE(&e->accessed, 1, RLX);
  return 0;
}

int shmem_shared_map_has(shmem_shared_map_t *m, const void *key, uint32_t key_len) {
  int r = check_key(m, key, key_len);
  if (r < 0) return r;
  found_t f;
  return find(m, key, key_len, NULL, 0, &f);
}

/* Reads entry i whole if a slot names it: 1 copied, 0 not live (or changing), -ENOBUFS. */
static int read_item(const shmem_shared_map_t *m, uint32_t pos, shmem_shared_map_item_t *it,
                     uint64_t now) {
  for (int tries = 0; tries < ENTRY_TRIES; tries++) {
    uint64_t w = LOAD(&m->index[pos], ACQ);
    uint32_t low = (uint32_t)w;
    if (low == 0 || low > m->nentries) return 0;
    entry_t *e = entry_at(m, low - 1);
    uint32_t s1 = LOAD(&e->seq, ACQ);
    if (s1 & 1) continue;
    uint32_t klen = LOAD(&e->key_len, RLX), vlen = LOAD(&e->value_len, RLX);
    uint64_t expires = LOAD(&e->expires, RLX);
    uint32_t flags = LOAD(&e->key_flags, RLX);
    int fits = klen <= it->key_size && vlen <= it->value_size;
    if (klen > m->max_key_bytes || vlen > m->max_value_bytes) return 0;
    if (fits) {
      memcpy(it->key, key_of(e), klen);
      memcpy(it->value, value_of(m, e), vlen);
    }
    __atomic_thread_fence(ACQ);
    if (LOAD(&e->seq, RLX) != s1 || LOAD(&m->index[pos], ACQ) != w) continue;
    if (expires != 0 && expires <= now) return 0;
    it->key_len = klen;
    it->value_len = vlen;
    it->key_flags = flags;
    return fits ? 1 : -ENOBUFS;
  }
  return 0;
}

int shmem_shared_map_next(shmem_shared_map_t *m, uint64_t *cursor,
                          shmem_shared_map_item_t *item) {
  if (m->base == NULL) return -EINVAL;
  uint64_t now = shmem__shared_map_now_ms();
  for (uint64_t pos = *cursor; pos < m->slots; pos++) {
    int r = read_item(m, (uint32_t)pos, item, now);
    if (r == -ENOBUFS) {
      *cursor = pos;
      return r;
    }
    if (r == 1) {
      *cursor = pos + 1;
      return 0;
    }
  }
  *cursor = m->slots;
  return -ENOENT;
}

void shmem_shared_map_stats(shmem_shared_map_t *m, shmem_shared_map_stats_t *st) {
  memset(st, 0, sizeof(*st));
  if (m->base == NULL) return;
  shmem__shared_map_flush(m);
  st->entries = LOAD(m32(m, M_LIVE), RLX);
  st->bytes = LOAD(m64(m, M_BYTES), RLX);
  st->capacity = m->capacity;
  st->hits = LOAD(m64(m, M_HITS), RLX);
  st->misses = LOAD(m64(m, M_MISSES), RLX);
  st->evictions = LOAD(m64(m, M_EVICTIONS), RLX);
  st->expirations = LOAD(m64(m, M_EXPIRATIONS), RLX);
  st->recoveries = LOAD(m64(m, M_RECOVERIES), RLX);
}
