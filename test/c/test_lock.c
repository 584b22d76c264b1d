/* What the locks need from the core: flock on open file descriptions, and thread liveness. */
#include "no_proc.h" /* first: it needs _GNU_SOURCE */
#include "check.h"
#include "internal.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_flock(void) {
  char path[] = "/tmp/shmem-test-lock-XXXXXX";
  int a = mkstemp(path);
  if (!CHECK(a >= 0)) return;
  int b = open(path, O_RDWR | O_CLOEXEC);
  CHECK(b >= 0);
  CHECK_ERR(shmem_flock(a, SHMEM_FLOCK_EXCLUSIVE, 1), 0);
  /* Another open file description of the same file, in the same process, is excluded. */
  CHECK_ERR(shmem_flock(b, SHMEM_FLOCK_SHARED, 1), -EAGAIN);
  int64_t start = shmem_now_ns();
  CHECK_ERR(shmem_flock_until(b, SHMEM_FLOCK_EXCLUSIVE, start + 20 * 1000000, NULL), -ETIMEDOUT);
  CHECK(shmem_now_ns() - start >= 19 * 1000000);
  volatile int cancel = 1;
  CHECK_ERR(shmem_flock_until(b, SHMEM_FLOCK_EXCLUSIVE, -1, &cancel), -ECANCELED);
  CHECK_ERR(shmem_flock(a, SHMEM_FLOCK_UNLOCK, 1), 0);
  CHECK_ERR(shmem_flock_until(b, SHMEM_FLOCK_SHARED, shmem_now_ns() + 1000000, NULL), 0);
  CHECK_ERR(shmem_flock(a, SHMEM_FLOCK_SHARED, 1), 0);
  CHECK_ERR(shmem_flock(a, (shmem_flock_mode_t)9, 1), -EINVAL);
  CHECK_ERR(shmem_flock(-1, SHMEM_FLOCK_SHARED, 1), -EBADF);
  close(a);
  close(b);
  unlink(path);
}

static void test_thread_identity(void) {
  int32_t tid = shmem_thread_id();
  CHECK(tid > 0);
  uint64_t start = 0;
  CHECK_ERR(shmem_thread_start_time(tid, &start), 0);
  CHECK(start > 0);
  CHECK_EQ_INT(shmem_thread_alive(tid, start), 1);
  CHECK_EQ_INT(shmem_thread_alive(tid, 0), 1);
  CHECK_EQ_INT(shmem_thread_alive(tid, start + 1), 0); /* the same id, another thread */
  CHECK_EQ_INT(shmem_thread_alive(0, 0), 0);
  CHECK_EQ_INT(shmem_thread_alive(-5, 0), 0);

  /* A killed child is dead while it is a zombie, before its parent reaps it. */
  pid_t pid = fork();
  if (pid == 0) {
    pause();
    _exit(0);
  }
  uint64_t child_start = 0;
  for (int i = 0; i < 100 && shmem_thread_start_time(pid, &child_start) != 0; i++) usleep(1000);
  CHECK_EQ_INT(shmem_thread_alive(pid, child_start), 1);
  kill(pid, SIGKILL);
  int dead = 0;
  for (int i = 0; i < 1000 && !dead; i++) {
    dead = shmem_thread_alive(pid, child_start) == 0;
    if (!dead) usleep(1000);
  }
  CHECK(dead);
  waitpid(pid, NULL, 0);
  CHECK_EQ_INT(shmem_thread_alive(pid, child_start), 0);
}

/* Where /proc does not show a thread (not mounted; hidepid hides other users'), a live one is
 * alive and a gone one dead: kill() decides. In a child with /proc unmounted in a mount
 * namespace of its own (needs the rights to make one: skipped without). */
static void test_alive_without_proc(void) {
  pid_t other = live_process(), gone = gone_pid();
  uint64_t start = 0;
  for (int i = 0; i < 100 && shmem_thread_start_time(other, &start) != 0; i++) usleep(1000);
  pid_t pid = fork();
  if (pid == 0) {
    leave_proc_or_skip();
    if (shmem_thread_alive(other, start) != 1) _exit(3);
    if (shmem_thread_alive(other, 0) != 1) _exit(4);
    if (shmem_thread_alive(gone, 0) != 0) _exit(5);
    _exit(0);
  }
  check_no_proc_child(pid, "thread liveness");
  kill(other, SIGKILL);
  waitpid(other, NULL, 0);
}

/* The /proc/<tid>/stat parser on lines the kernel never writes: it must refuse them, never read
 * past the text. A line that ends at its last ')' made it step past the NUL (found by
 * test/fuzz/fuzz_proc; the reproducer is its regress-stat-ends-at-paren seed). */
static void test_proc_stat_parse(void) {
  uint64_t start = 0;
  int ended = 0;
  long threads = 0;
  char *ends_at_paren = malloc(4);
  if (!CHECK(ends_at_paren != NULL)) return;
  memcpy(ends_at_paren, "\n[)", 4); /* no NUL of its own past the ')': ASan watches the next */
  ends_at_paren[3] = '\0';
  CHECK_ERR(shmem__proc_stat_parse(ends_at_paren, &start, &ended, &threads), -EIO);
  free(ends_at_paren);
  CHECK_ERR(shmem__proc_stat_parse("1 (x)", &start, &ended, &threads), -EIO);
  CHECK_ERR(shmem__proc_stat_parse("1 (x) S 2 3", &start, &ended, &threads), -EIO);
  CHECK_ERR(shmem__proc_stat_parse("no paren", &start, &ended, &threads), -EIO);
  const char *line = "7 (a) (b)) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 3 18 4242 20";
  CHECK_ERR(shmem__proc_stat_parse(line, &start, &ended, &threads), 0);
  CHECK_EQ_U64(start, 4242);
  CHECK_EQ_INT(ended, 1);
  CHECK_EQ_INT(threads, 3);
}

int main(void) {
  test_proc_stat_parse();
  test_flock();
  test_thread_identity();
  test_alive_without_proc();
  return CHECK_REPORT();
}
