/* System V segments: create, open by key and by id, remove (also while attached), stat.
 * Every key is unique to this run and removed by the test that made it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include "check.h"
#include "shmem.h"

#define MAX_KEYS 64
static int32_t keys_made[MAX_KEYS];
static int keys_count;

/* Remembers a key so sweep_keys() can check that nothing with it is left. */
static int32_t track_key(int32_t key) {
  if (keys_count < MAX_KEYS) keys_made[keys_count++] = key;
  return key;
}

/* A key of this run's own: the pid and a counter, above bit 30 so it never is IPC_PRIVATE. */
static int32_t make_key(void) {
  static uint32_t counter;
  uint32_t v = 0x40000000u | (((uint32_t)getpid() & 0x3fffffu) << 8) | (++counter & 0xffu);
  return track_key((int32_t)v);
}

/* Removes every segment still holding a key this run made and counts them: each test cleans
 * up after itself, so any count but 0 is a leak in a test or in the core. */
static int sweep_keys(void) {
  int left = 0;
  for (int i = 0; i < keys_count; i++) {
    int id = shmget((key_t)keys_made[i], 0, 0);
    if (id >= 0) {
      fprintf(stderr, "left behind: key 0x%08x\n", (unsigned)keys_made[i]);
      shmctl(id, IPC_RMID, NULL);
      left++;
    }
  }
  return left;
}

static int id_exists(int shmid) {
  struct shmid_ds ds;
  return shmctl(shmid, IPC_STAT, &ds) == 0;
}

static void map_perms(const void *addr, char out[5]) {
  out[0] = '\0';
  FILE *f = fopen("/proc/self/maps", "re");
  if (f == NULL) return;
  char line[512];
  while (fgets(line, sizeof(line), f) != NULL) {
    unsigned long lo, hi;
    char perms[5];
    if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) != 3) continue;
    if ((unsigned long)addr >= lo && (unsigned long)addr < hi) {
      memcpy(out, perms, 5);
      break;
    }
  }
  fclose(f);
}

static void test_create_fresh_and_open(void) {
  shmem_options_t o;
  shmem_options_init(&o);
  shmem_segment_t a, b, c, d;
  shmem_err_t err = {0, NULL};
  if (CHECK_ERR(shmem_sysv_create(&a, SHMEM_KEY_FRESH, 10000, &o, &err), 0)) {
    track_key(a.key);
    CHECK_NE_INT(a.key, 0);
    CHECK(a.key > 0);
    CHECK(a.shmid >= 0);
    CHECK_EQ_INT(a.kind, SHMEM_KIND_SYSV);
    CHECK_EQ_INT(a.fd, -1);
    CHECK_EQ_INT(a.created, 1);
    CHECK_EQ_U64(a.size, 10000);
    CHECK_EQ_STR(a.name, "");
    CHECK_EQ_INT(shmget((key_t)a.key, 0, 0), a.shmid);
    for (int i = 0; i < 10000; i++) ((unsigned char *)a.data)[i] = (unsigned char)(i * 31);
  }
  if (CHECK_ERR(shmem_sysv_open(&b, a.key, &o, NULL), 0) && a.data != NULL) {
    CHECK_EQ_INT(b.created, 0);
    CHECK_EQ_INT(b.shmid, a.shmid);
    CHECK_EQ_INT(b.key, a.key);
    CHECK_EQ_U64(b.size, 10000);
    CHECK(b.data != a.data);
    CHECK(memcmp(a.data, b.data, 10000) == 0);
  }
  if (CHECK_ERR(shmem_sysv_open_id(&c, a.shmid, &o, NULL), 0) && a.data != NULL) {
    CHECK_EQ_INT(c.key, a.key);
    CHECK_EQ_INT(c.shmid, a.shmid);
    CHECK_EQ_U64(c.size, 10000);
    CHECK(c.data != a.data && c.data != b.data);
    memcpy((char *)c.data + 9000, "by id", 6);
    CHECK_EQ_STR((const char *)a.data + 9000, "by id");
    if (b.data != NULL) CHECK_EQ_STR((const char *)b.data + 9000, "by id");
  }
  o.size = 20000;
  err.code = 0;
  CHECK_ERR(shmem_sysv_open(&d, a.key, &o, &err), SHMEM_ETOOSMALL);
  CHECK_ERR(err.code, SHMEM_ETOOSMALL);
  CHECK(d.data == NULL);
  o.size = 100;
  if (CHECK_ERR(shmem_sysv_open(&d, a.key, &o, NULL), 0)) CHECK_EQ_U64(d.size, 100);
  shmem_segment_close(&d);

  /* Two fresh keys are two segments. */
  o.size = 0;
  if (CHECK_ERR(shmem_sysv_create(&d, SHMEM_KEY_FRESH, 4096, &o, NULL), 0)) {
    track_key(d.key);
    CHECK_NE_INT(d.key, a.key);
    CHECK_NE_INT(d.shmid, a.shmid);
    CHECK_ERR(shmem_sysv_remove(d.key, NULL), 0);
  }
  shmem_segment_close(&d);

  shmem_segment_close(&a);
  shmem_segment_close(&b);
  shmem_segment_close(&c);
  if (a.key != 0) CHECK_ERR(shmem_sysv_remove(a.key, NULL), 0);
}

static void test_create_existing(void) {
  int32_t key = make_key();
  shmem_options_t o;
  shmem_options_init(&o);
  shmem_segment_t a, b;
  shmem_err_t err = {0, NULL};
  if (CHECK_ERR(shmem_sysv_create(&a, key, 8192, &o, NULL), 0)) {
    CHECK_EQ_INT(a.key, key);
    memcpy(a.data, "mine", 5);
  }
  CHECK_ERR(shmem_sysv_create(&b, key, 4096, &o, &err), -EEXIST);
  CHECK_ERR(err.code, -EEXIST);
  CHECK_EQ_STR(err.syscall, "shmget");
  CHECK(b.data == NULL);
  /* The failed create must not remove or change the segment that holds the key. */
  if (a.data != NULL) {
    CHECK_EQ_INT(shmget((key_t)key, 0, 0), a.shmid);
    CHECK_EQ_STR((const char *)a.data, "mine");
  }
  CHECK_ERR(shmem_sysv_create(&b, (int64_t)INT32_MAX + 1, 4096, &o, NULL), -EINVAL);
  CHECK_ERR(shmem_sysv_create(&b, make_key(), 0, &o, NULL), -EINVAL);
  shmem_segment_close(&b);
  shmem_segment_close(&a);
  shmem_sysv_remove(key, NULL);
}

static void test_remove(void) {
  shmem_options_t o;
  shmem_options_init(&o);
  shmem_segment_t a, b;
  shmem_err_t err = {0, NULL};

  /* Detached first. */
  int32_t key = make_key();
  CHECK_ERR(shmem_sysv_create(&a, key, 4096, &o, NULL), 0);
  int id = a.shmid;
  shmem_segment_close(&a);
  CHECK(id_exists(id));
  CHECK_ERR(shmem_sysv_remove(key, &err), 0);
  CHECK(!id_exists(id));
  CHECK_ERR(shmem_sysv_remove(key, &err), -ENOENT);
  CHECK_ERR(err.code, -ENOENT);
  CHECK_ERR(shmem_sysv_remove_id(id, NULL), -ENOENT);

  /* Still attached: the segment lives on until detached, but its key is gone at once. */
  key = make_key();
  if (CHECK_ERR(shmem_sysv_create(&a, key, 4096, &o, NULL), 0)) {
    id = a.shmid;
    CHECK_ERR(shmem_sysv_remove(key, NULL), 0);
    CHECK_ERR(shmem_sysv_remove(key, NULL), -ENOENT);
    CHECK_ERR(shmem_sysv_remove_id(id, NULL), -ENOENT);
    CHECK_ERR(shmem_segment_unlink(&a, NULL), -ENOENT);
    CHECK_ERR(shmem_sysv_open(&b, key, &o, NULL), -ENOENT);
    shmem_segment_close(&b);
    memcpy(a.data, "still here", 11);
    CHECK_EQ_STR((const char *)a.data, "still here");
    CHECK(id_exists(id));
    shmem_segment_close(&a);
    CHECK(!id_exists(id));
  }
  shmem_segment_close(&a);

  /* Through the segment, by id, while attached. */
  key = make_key();
  if (CHECK_ERR(shmem_sysv_create(&a, key, 4096, &o, NULL), 0)) {
    id = a.shmid;
    CHECK_ERR(shmem_segment_unlink(&a, NULL), 0);
    CHECK_ERR(shmem_segment_unlink(&a, NULL), -ENOENT);
    CHECK_ERR(shmem_sysv_remove_id(id, NULL), -ENOENT);
    CHECK_ERR(shmem_sysv_remove(key, NULL), -ENOENT);
    shmem_segment_close(&a);
    CHECK_ERR(shmem_segment_unlink(&a, NULL), -ENOENT);
  }
  shmem_segment_close(&a);
  shmem_sysv_remove(key, NULL);

  err.code = 0;
  CHECK_ERR(shmem_sysv_remove_id(0x7ffffff0, &err), -ENOENT);
  CHECK_ERR(err.code, -ENOENT);
  CHECK_ERR(shmem_sysv_remove_id(-1, NULL), -ENOENT);
}

static void test_open_missing(void) {
  shmem_options_t o;
  shmem_options_init(&o);
  shmem_segment_t s;
  shmem_err_t err = {0, NULL};
  int32_t key = make_key();
  CHECK_ERR(shmem_sysv_open(&s, key, &o, &err), -ENOENT);
  CHECK_ERR(err.code, -ENOENT);
  CHECK_EQ_STR(err.syscall, "shmget");
  CHECK(s.data == NULL);
  shmem_segment_close(&s);
  CHECK_ERR(shmem_sysv_open_id(&s, 0x7ffffff0, &o, NULL), -ENOENT);
  shmem_segment_close(&s);
  CHECK_ERR(shmem_sysv_remove(key, NULL), -ENOENT);
  CHECK_ERR(shmem_sysv_open(&s, IPC_PRIVATE, &o, NULL), -EINVAL);
  shmem_segment_close(&s);
}

static void test_stat(void) {
  size_t page = shmem_page_size();
  shmem_options_t o;
  shmem_options_init(&o);
  shmem_segment_t a, b;
  shmem_stat_t st;
  int32_t key = make_key();
  CHECK_ERR(shmem_sysv_create(&a, key, 3 * page + 5, &o, NULL), 0);
  if (CHECK_ERR(shmem_sysv_open(&b, key, &o, NULL), 0)) {
    if (CHECK_ERR(shmem_segment_stat(&a, &st, NULL), 0)) {
      CHECK_EQ_U64(st.nattch, 2);
      CHECK_EQ_U64(st.size, 3 * page + 5);
      CHECK_EQ_INT(st.mode, 0600);
      CHECK_EQ_INT(st.cpid, getpid());
      CHECK_EQ_INT(st.lpid, getpid());
      CHECK_EQ_INT(st.cuid, getuid());
    }
    CHECK_EQ_U64(b.size, 3 * page + 5);
  }
  shmem_segment_close(&b);
  if (CHECK_ERR(shmem_segment_stat(&a, &st, NULL), 0)) CHECK_EQ_U64(st.nattch, 1);
  shmem_segment_close(&a);
  if (CHECK_ERR(shmem_segment_stat(&a, &st, NULL), 0)) CHECK_EQ_U64(st.nattch, 0);
  shmem_sysv_remove(key, NULL);
}

static void test_readonly(void) {
  shmem_options_t o;
  shmem_options_init(&o);
  shmem_segment_t a, b;
  char perms[5];
  int32_t key = make_key();
  if (CHECK_ERR(shmem_sysv_create(&a, key, 4096, &o, NULL), 0)) {
    memcpy(a.data, "read me", 8);
    map_perms(a.data, perms);
    CHECK_EQ_STR(perms, "rw-s");
  }
  o.flags = SHMEM_F_READONLY;
  if (CHECK_ERR(shmem_sysv_open(&b, key, &o, NULL), 0)) {
    CHECK(b.flags & SHMEM_F_READONLY);
    map_perms(b.data, perms);
    CHECK_EQ_STR(perms, "r--s");
    CHECK_EQ_STR((const char *)b.data, "read me");
  }
  shmem_segment_close(&b);
  shmem_segment_close(&a);
  shmem_sysv_remove(key, NULL);
}

int main(void) {
  test_create_fresh_and_open();
  test_create_existing();
  test_remove();
  test_open_missing();
  test_stat();
  test_readonly();
  CHECK_EQ_INT(sweep_keys(), 0);
  return CHECK_REPORT();
}
