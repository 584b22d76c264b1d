/* Shared maps, part 2: the writer (docs/map-format.md, "Writing" and "Recovery").
 *
 * One writer at a time, under a robust lock word {pid, start time} in the header (the
 * channels' lock, src/channel_lock.c; waiters sleep on its low half in slices). A set writes
 * the new value into a free entry while no index slot names it, then publishes it with one
 * atomic store of the slot word, then frees the old entry: a reader sees the old value or the
 * new one, never a mix, and a writer killed at any instant leaves every key with a value some
 * set wrote in full. The free list, the counters and the entries' back pointers are the
 * writer's bookkeeping: a writer that takes the lock over from a dead one rebuilds them from
 * the index (shmem__shared_map_repair), and so does any writer that finds them inconsistent.
 * The lock itself is in src/shared_map_lock.c.
 *
 * The writer trusts the shared bytes no more than a reader does: an entry number is checked
 * against the entry count, a length against the map's maxima, a slot against the index size. */
#include "shared_map_internal.h"


/* ---- bookkeeping --------------------------------------------------------------------------- */

/* The generation is odd while the index is being cleared or rebuilt: readers then distrust
 * their misses. */
static uint32_t gen_begin(shmem_shared_map_t *m) {
  uint32_t g = LOAD(m32(m, M_GENERATION), RLX) | 1;
  STORE(m32(m, M_GENERATION), g, RLX);
  __atomic_thread_fence(SEQ);
  return g;
}

static void gen_end(shmem_shared_map_t *m, uint32_t g) {
  STORE(m32(m, M_GENERATION), g + 1, REL);
}

static uint32_t hdr32(const shmem_shared_map_t *m, size_t off) { return LOAD(m32(m, off), RLX); }
static void set32(shmem_shared_map_t *m, size_t off, uint32_t v) { STORE(m32(m, off), v, RLX); }

static void add_bytes(shmem_shared_map_t *m, uint64_t plus, uint64_t minus) {
  uint64_t b = LOAD(m64(m, M_BYTES), RLX);
  b = b + plus >= minus ? b + plus - minus : 0;
  STORE(m64(m, M_BYTES), b, RLX);
}

/* 1 when a slot names entry i (its back pointer is checked against the index). */
static int entry_live(const shmem_shared_map_t *m, uint32_t i) {
  uint32_t slot = entry_at(m, i)->slot;
  return slot < m->slots && (uint32_t)LOAD(&m->index[slot], RLX) == i + 1;
}

/* An entry's lengths as the maxima allow (garbage counts as nothing). */
static uint64_t entry_bytes(const shmem_shared_map_t *m, const entry_t *e) {
  uint32_t k = e->key_len, v = e->value_len;
  return k <= m->max_key_bytes && v <= m->max_value_bytes ? (uint64_t)k + v : 0;
}

static void free_entry(shmem_shared_map_t *m, uint32_t i) {
  entry_t *e = entry_at(m, i);
  /* Moves the counter (to the next even value) so that a read racing with us retries. */
  STORE(&e->seq, (LOAD(&e->seq, RLX) | 1) + 1, REL);
  e->slot = NO_SLOT;
  e->accessed = 0;
  e->next_free = hdr32(m, M_FREE_HEAD);
  set32(m, M_FREE_HEAD, i + 1);
}

/* Takes the first free entry: 0, or SHMEM_EBADSTATE when the free list is broken (it is then
 * rebuilt, so that the next call works). */
static int alloc_entry(shmem_shared_map_t *m, uint32_t *out) {
  uint32_t head = hdr32(m, M_FREE_HEAD);
  if (head == 0 || head > m->nentries || entry_live(m, head - 1)) {
    shmem__shared_map_repair(m);
    return SHMEM_EBADSTATE;
  }
  set32(m, M_FREE_HEAD, entry_at(m, head - 1)->next_free);
  *out = head - 1;
  return 0;
}

/* Puts slot word w (entry i, whose hash is hash) into the first empty slot of its probe. */
static void place(shmem_shared_map_t *m, uint64_t w, uint64_t hash, uint32_t i) {
  uint32_t mask = m->slots - 1, pos = (uint32_t)hash & mask;
  for (uint32_t n = 0; n < m->slots; n++, pos = (pos + 1) & mask) {
    if (LOAD(&m->index[pos], RLX) == SLOT_EMPTY) {
      entry_at(m, i)->slot = pos;
      STORE(&m->index[pos], w, REL);
      return;
    }
  }
}

/* Whether slot word w names a valid entry: its number, or UINT32_MAX. */
static uint32_t valid_entry(const shmem_shared_map_t *m, uint64_t w) {
  uint32_t low = (uint32_t)w;
  if (low == 0 || low > m->nentries) return UINT32_MAX;
  entry_t *e = entry_at(m, low - 1);
  if ((LOAD(&e->seq, RLX) & 1) || e->key_len > m->max_key_bytes ||
      e->value_len > m->max_value_bytes || (uint32_t)(e->hash >> 32) != (uint32_t)(w >> 32)) {
    return UINT32_MAX;
  }
  return low - 1;
}

#define MARK_LIVE 1u /* rebuild: the entry was named by the index when the rebuild began */
#define MARK_SEEN 2u /* repair: a slot names the entry */

/* Rehashes every entry the index names into an index without tombstones. A writer killed
 * while it runs leaves REBUILDING set and the live entries marked: repair puts them back. */
static void rebuild_index(shmem_shared_map_t *m) {
  for (uint32_t i = 0; i < m->nentries; i++) entry_at(m, i)->mark = 0;
  for (uint32_t pos = 0; pos < m->slots; pos++) {
    uint32_t i = valid_entry(m, LOAD(&m->index[pos], RLX));
    if (i != UINT32_MAX) entry_at(m, i)->mark = MARK_LIVE;
  }
  set32(m, M_REBUILDING, 1);
  uint32_t g = gen_begin(m);
  for (uint32_t pos = 0; pos < m->slots; pos++) STORE(&m->index[pos], SLOT_EMPTY, RLX);
  for (uint32_t i = 0; i < m->nentries; i++) {
    entry_t *e = entry_at(m, i);
    if (e->mark & MARK_LIVE) place(m, slot_word(e->hash, i), e->hash, i);
  }
  set32(m, M_TOMBSTONES, 0);
  set32(m, M_REBUILDING, 0);
  gen_end(m, g);
}

/* Makes the bookkeeping agree with the index: drops slots that name no valid entry (or one
 * another slot names, or past the capacity), puts back what a killed rebuild had taken out,
 * rebuilds the free list from the entries no slot names and recounts entries, bytes and
 * tombstones. Run by a writer that took the lock over from a dead one, and by one that
 * found the free list broken. Bounded: one pass over the slots, two over the entries. */
void shmem__shared_map_repair(shmem_shared_map_t *m) {
  uint32_t g = gen_begin(m);
  int rebuilding = hdr32(m, M_REBUILDING) != 0;
  for (uint32_t i = 0; i < m->nentries; i++) entry_at(m, i)->mark &= MARK_LIVE;
  uint32_t live = 0, tombs = 0;
  uint64_t bytes = 0;
  for (uint32_t pos = 0; pos < m->slots; pos++) {
    uint64_t w = LOAD(&m->index[pos], RLX);
    if (w == SLOT_EMPTY) continue;
    uint32_t i = valid_entry(m, w);
    if (i == UINT32_MAX || (entry_at(m, i)->mark & MARK_SEEN) || live >= m->capacity) {
      STORE(&m->index[pos], SLOT_TOMB, REL);
      tombs++;
      continue;
    }
    entry_t *e = entry_at(m, i);
    e->mark |= MARK_SEEN;
    e->slot = pos;
    live++;
    bytes += entry_bytes(m, e);
  }
  if (rebuilding) {
    for (uint32_t i = 0; i < m->nentries && live < m->capacity; i++) {
      entry_t *e = entry_at(m, i);
      if (e->mark != MARK_LIVE || valid_entry(m, slot_word(e->hash, i)) != i) continue;
      place(m, slot_word(e->hash, i), e->hash, i);
      e->mark |= MARK_SEEN;
      live++;
      bytes += entry_bytes(m, e);
    }
  }
  uint32_t head = 0;
  for (uint32_t i = m->nentries; i-- > 0;) {
    entry_t *e = entry_at(m, i);
    if (e->mark & MARK_SEEN) continue;
    uint32_t seq = LOAD(&e->seq, RLX);
    if (seq & 1) STORE(&e->seq, seq + 1, REL); /* a dead writer's half-written entry */
    e->slot = NO_SLOT;
    e->next_free = head;
    head = i + 1;
  }
  set32(m, M_FREE_HEAD, head);
  set32(m, M_LIVE, live);
  set32(m, M_TOMBSTONES, tombs);
  set32(m, M_HAND, hdr32(m, M_HAND) % m->nentries);
  set32(m, M_REBUILDING, 0);
  STORE(m64(m, M_BYTES), bytes, RLX);
  gen_end(m, g);
  if (tombs > m->slots / 4) rebuild_index(m);
}

/* ---- finding and removing under the lock --------------------------------------------------- */

typedef struct spot_s {
  uint32_t slot;  /* the key's slot, or NO_SLOT */
  uint32_t entry; /* its entry */
  uint32_t insert; /* where a new key would go: the first tombstone or empty slot, or NO_SLOT */
} spot_t;

/* Looks key up as the writer: 1 found, 0 not, SHMEM_EBADSTATE. */
static int locate(shmem_shared_map_t *m, const void *key, uint32_t key_len, uint64_t hash,
                  spot_t *s) {
  uint32_t mask = m->slots - 1, tag = (uint32_t)(hash >> 32);
  uint32_t pos = (uint32_t)hash & mask;
  s->slot = s->insert = NO_SLOT;
  for (uint32_t n = 0; n < m->slots; n++, pos = (pos + 1) & mask) {
    uint64_t w = LOAD(&m->index[pos], RLX);
    uint32_t low = (uint32_t)w;
    if (low == 0 && s->insert == NO_SLOT) s->insert = pos;
    if (w == SLOT_EMPTY) return 0;
    if (low == 0 || (uint32_t)(w >> 32) != tag) continue;
    if (low > m->nentries) return SHMEM_EBADSTATE;
    entry_t *e = entry_at(m, low - 1);
    if (e->key_len == key_len && e->hash == hash &&
        (key_len == 0 || memcmp(key_of(e), key, key_len) == 0)) {
      s->slot = pos;
      s->entry = low - 1;
      return 1;
    }
  }
  return 0;
}

static int expired(const entry_t *e, uint64_t *now) {
  uint64_t at = e->expires;
  if (at == 0) return 0;
  if (*now == 0) *now = shmem__shared_map_now_ms();
  return at <= *now;
}

/* Removes the key in slot pos (entry i), counting it in counter (an M_* offset, or 0). */
static void remove_at(shmem_shared_map_t *m, uint32_t pos, uint32_t i, size_t counter) {
  /* A slot before an empty one ends no probe that goes past it: it may become empty. */
  int last = LOAD(&m->index[(pos + 1) & (m->slots - 1)], RLX) == SLOT_EMPTY;
  STORE(&m->index[pos], last ? SLOT_EMPTY : SLOT_TOMB, REL);
  if (!last) set32(m, M_TOMBSTONES, hdr32(m, M_TOMBSTONES) + 1);
  uint32_t live = hdr32(m, M_LIVE);
  set32(m, M_LIVE, live > 0 ? live - 1 : 0);
  add_bytes(m, 0, entry_bytes(m, entry_at(m, i)));
  free_entry(m, i);
  if (counter != 0) __atomic_fetch_add(m64(m, counter), 1, RLX);
}

static void tidy(shmem_shared_map_t *m) {
  if (hdr32(m, M_TOMBSTONES) > m->slots / 4) rebuild_index(m);
}

/* Removes every expired key: how many. */
static uint64_t purge(shmem_shared_map_t *m) {
  uint64_t now = 0, n = 0;
  for (uint32_t i = 0; i < m->nentries; i++) {
    entry_t *e = entry_at(m, i);
    if (entry_live(m, i) && expired(e, &now)) {
      remove_at(m, e->slot, i, M_EXPIRATIONS);
      n++;
    }
  }
  tidy(m);
  return n;
}

/* Frees room for one more key in a full map: CLOCK (evict 'lru'), expired keys first as the
 * hand meets them; or only the expired keys (evict 'none'). 0, SHMEM_EFULL. */
static int make_room(shmem_shared_map_t *m) {
  if (m->evict == SHMEM_SHARED_MAP_EVICT_NONE) {
    purge(m);
    return hdr32(m, M_LIVE) < m->capacity ? 0 : SHMEM_EFULL;
  }
  uint64_t now = 0;
  for (uint64_t step = 0; step < 2ull * m->nentries + 2; step++) {
    uint32_t h = hdr32(m, M_HAND);
    if (h >= m->nentries) h = 0;
    set32(m, M_HAND, h + 1);
    if (!entry_live(m, h)) continue;
    entry_t *e = entry_at(m, h);
    if (expired(e, &now)) {
      remove_at(m, e->slot, h, M_EXPIRATIONS);
      return 0;
    }
    if (LOAD(&e->accessed, RLX)) {
      STORE(&e->accessed, 0, RLX);
      continue;
    }
    remove_at(m, e->slot, h, M_EVICTIONS);
    return 0;
  }
  shmem__shared_map_repair(m); /* a full count with no live entry: the count was wrong */
  return hdr32(m, M_LIVE) < m->capacity ? 0 : SHMEM_EBADSTATE;
}

/* ---- the writes ---------------------------------------------------------------------------- */

typedef struct item_in_s {
  const void *key;
  uint32_t key_len, key_flags;
  const void *value;
  uint64_t value_len;
  uint64_t expires; /* absolute, ms; 0: never */
} item_in_t;

/* accessed: CLOCK's bit. A new key starts without it (entries are taken where the hand has
 * just passed, so it gets a whole turn); a key set again counts as used. */
static void write_entry(shmem_shared_map_t *m, uint32_t i, const item_in_t *in, uint64_t hash,
                        uint32_t slot, uint32_t accessed) {
  entry_t *e = entry_at(m, i);
  uint32_t odd = LOAD(&e->seq, RLX) | 1;
  STORE(&e->seq, odd, RLX);
  __atomic_thread_fence(REL);
  STORE(&e->key_len, in->key_len, RLX);
  STORE(&e->value_len, (uint32_t)in->value_len, RLX);
  STORE(&e->hash, hash, RLX);
  STORE(&e->expires, in->expires, RLX);
  STORE(&e->key_flags, in->key_flags, RLX);
  STORE(&e->accessed, accessed, RLX);
  e->slot = slot;
  e->next_free = 0;
  if (in->key_len > 0) memcpy(key_of(e), in->key, in->key_len); /* NULL for the empty key */
  if (in->value_len > 0) memcpy(value_of(m, e), in->value, in->value_len);
  STORE(&e->seq, odd + 1, REL);
}

/* Sets a key under the lock; found/s from locate(). */
static int put(shmem_shared_map_t *m, const item_in_t *in, uint64_t hash, int found, spot_t *s) {
  int r;
  if (!found && hdr32(m, M_LIVE) >= m->capacity) {
    r = make_room(m);
    if (r < 0) return r;
    r = locate(m, in->key, in->key_len, hash, s);
    if (r < 0) return r;
  }
  if (!found && s->insert == NO_SLOT) { /* tombstones everywhere */
    rebuild_index(m);
    r = locate(m, in->key, in->key_len, hash, s);
    if (r < 0) return r;
    if (s->insert == NO_SLOT) return SHMEM_EBADSTATE;
  }
  uint32_t i;
  r = alloc_entry(m, &i);
  if (r < 0) return r;
  uint32_t pos = found ? s->slot : s->insert;
  write_entry(m, i, in, hash, pos, found ? 1 : 0);
  uint64_t old_word = LOAD(&m->index[pos], RLX);
  STORE(&m->index[pos], slot_word(hash, i), REL); /* the publication */
  add_bytes(m, (uint64_t)in->key_len + in->value_len, 0);
  if (found) {
    add_bytes(m, 0, entry_bytes(m, entry_at(m, s->entry)));
    free_entry(m, s->entry);
  } else {
    set32(m, M_LIVE, hdr32(m, M_LIVE) + 1);
    uint32_t tombs = hdr32(m, M_TOMBSTONES);
    if (old_word != SLOT_EMPTY && tombs > 0) set32(m, M_TOMBSTONES, tombs - 1);
  }
  return 0;
}

static int check_key(const shmem_shared_map_t *m, const void *key, uint32_t key_len) {
  if (m->base == NULL || (key == NULL && key_len > 0)) return -EINVAL;
  return key_len > m->max_key_bytes ? -ERANGE : 0;
}

static uint64_t expiry(const shmem_shared_map_t *m, int64_t ttl_ms) {
  uint64_t ttl = ttl_ms < 0 ? m->default_ttl_ms : (uint64_t)ttl_ms;
  return ttl == 0 ? 0 : shmem__shared_map_now_ms() + ttl;
}

int shmem_shared_map_set(shmem_shared_map_t *m, const void *key, uint32_t key_len,
                         uint32_t key_flags, const void *value, uint64_t value_len,
                         int64_t ttl_ms) {
  int r = check_key(m, key, key_len);
  if (r < 0) return r;
  if (value_len > m->max_value_bytes) return -ERANGE;
  if (value == NULL && value_len > 0) return -EINVAL;
  item_in_t in = {key, key_len, key_flags & 0xff, value, value_len, expiry(m, ttl_ms)};
  uint64_t hash = shmem__shared_map_hash(m->seed, key, key_len);
  int took = shmem__shared_map_begin(m);
  if (took < 0) return took;
  spot_t s;
  r = locate(m, key, key_len, hash, &s);
  if (r >= 0) r = put(m, &in, hash, r, &s);
  shmem__shared_map_end(m, took);
  return r;
}

int shmem_shared_map_delete(shmem_shared_map_t *m, const void *key, uint32_t key_len) {
  int r = check_key(m, key, key_len);
  if (r < 0) return r;
  uint64_t hash = shmem__shared_map_hash(m->seed, key, key_len);
  int took = shmem__shared_map_begin(m);
  if (took < 0) return took;
  spot_t s;
  r = locate(m, key, key_len, hash, &s);
  if (r == 1) {
    uint64_t now = 0;
    int was_expired = expired(entry_at(m, s.entry), &now);
    remove_at(m, s.slot, s.entry, was_expired ? M_EXPIRATIONS : 0);
    tidy(m);
    r = !was_expired;
  }
  shmem__shared_map_end(m, took);
  return r;
}

/* A decimal integer of 1 to 20 bytes ('-' then digits): 0 and *out, or -EINVAL. */
static int parse_int(const unsigned char *p, uint64_t len, int64_t *out) {
  if (len == 0 || len > 20) return -EINVAL;
  int neg = p[0] == '-';
  if (neg && len == 1) return -EINVAL;
  int64_t v = 0;
  for (uint64_t k = neg; k < len; k++) {
    if (p[k] < '0' || p[k] > '9') return -EINVAL;
    int d = p[k] - '0';
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, neg ? -d : d, &v)) {
      return -EINVAL;
    }
  }
  *out = v;
  return 0;
}

static int increment_locked(shmem_shared_map_t *m, const item_in_t *key, int64_t by,
                            int64_t limit, int64_t *out) {
  uint64_t hash = shmem__shared_map_hash(m->seed, key->key, key->key_len);
  spot_t s;
  int r = locate(m, key->key, key->key_len, hash, &s);
  if (r < 0) return r;
  item_in_t in = *key;
  int64_t now_value = 0;
  uint64_t now = 0;
  if (r == 1 && expired(entry_at(m, s.entry), &now)) {
    remove_at(m, s.slot, s.entry, M_EXPIRATIONS);
    r = locate(m, key->key, key->key_len, hash, &s);
    if (r < 0) return r;
  }
  if (r == 1) {
    entry_t *e = entry_at(m, s.entry);
    unsigned char text[24];
    uint32_t len = e->value_len;
    if (len > sizeof(text) || len > m->max_value_bytes) return -EINVAL;
    memcpy(text, value_of(m, e), len);
    if (parse_int(text, len, &now_value) < 0) return -EINVAL;
    in.expires = e->expires;
    in.key_flags = e->key_flags;
  }
  int64_t v;
  if (__builtin_add_overflow(now_value, by, &v) || v > limit || v < -limit) return -ERANGE;
  char text[24];
  int n = snprintf(text, sizeof(text), "%lld", (long long)v);
  if (n < 0 || (uint64_t)n > m->max_value_bytes) return -ERANGE;
  in.value = text;
  in.value_len = (uint64_t)n;
  r = put(m, &in, hash, r, &s);
  if (r == 0) *out = v;
  return r;
}

int shmem_shared_map_increment(shmem_shared_map_t *m, const void *key, uint32_t key_len,
                               uint32_t key_flags, int64_t by, int64_t limit, int64_t *out) {
  int r = check_key(m, key, key_len);
  if (r < 0) return r;
  if (limit < 0) return -EINVAL;
  item_in_t in = {key, key_len, key_flags & 0xff, NULL, 0, expiry(m, -1)};
  int took = shmem__shared_map_begin(m);
  if (took < 0) return took;
  r = increment_locked(m, &in, by, limit, out);
  shmem__shared_map_end(m, took);
  return r;
}

int shmem_shared_map_clear(shmem_shared_map_t *m) {
  if (m->base == NULL) return -EINVAL;
  int took = shmem__shared_map_begin(m);
  if (took < 0) return took;
  uint32_t g = gen_begin(m);
  for (uint32_t pos = 0; pos < m->slots; pos++) STORE(&m->index[pos], SLOT_EMPTY, RLX);
  for (uint32_t i = 0; i < m->nentries; i++) {
    entry_t *e = entry_at(m, i);
    STORE(&e->seq, (LOAD(&e->seq, RLX) | 1) + 1, REL);
    e->slot = NO_SLOT;
    e->accessed = 0;
    e->next_free = i + 1 < m->nentries ? i + 2 : 0;
  }
  set32(m, M_FREE_HEAD, 1);
  set32(m, M_LIVE, 0);
  set32(m, M_TOMBSTONES, 0);
  set32(m, M_HAND, 0);
  STORE(m64(m, M_BYTES), 0, RLX);
  gen_end(m, g);
  shmem__shared_map_end(m, took);
  return 0;
}

int shmem_shared_map_purge(shmem_shared_map_t *m, uint64_t *removed) {
  if (m->base == NULL) return -EINVAL;
  int took = shmem__shared_map_begin(m);
  if (took < 0) return took;
  uint64_t n = purge(m);
  shmem__shared_map_end(m, took);
  if (removed != NULL) *removed = n;
  return 0;
}
