/* A C program on a channel that Node made (or the other way round).
 *
 *   make examples                                  builds out/examples/channel
 *   out/examples/channel create NAME CAPACITY KIND   a new channel (KIND: spsc, mpsc, mpmc)
 *   out/examples/channel send NAME COUNT             sends "message 0" .. "message COUNT-1"
 *   out/examples/channel receive NAME COUNT          receives COUNT messages and checks them
 *
 * From Node:  const ch = shmem.Channel.open(NAME)  /  shmem.Channel.create(NAME, {...}).
 * Exit status 0 on success; messages go to stdout, problems to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmem.h"

static int fail(const char *what, int err) {
  fprintf(stderr, "channel: %s: %s (%s)\n", what, shmem_strerror(err), shmem_err_name(err));
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s create NAME CAPACITY KIND | send NAME COUNT | receive NAME COUNT\n",
            argv[0]);
    return 2;
  }
  const char *cmd = argv[1], *name = argv[2];
  shmem_segment_t seg;
  shmem_options_t opts;
  shmem_options_init(&opts);
  shmem_channel_t ch;
  shmem_err_t err = {0, NULL};
  int r;

  if (strcmp(cmd, "create") == 0) {
    shmem_channel_options_t co = {strtoull(argv[3], NULL, 10), 0, SHMEM_CHANNEL_SPSC};
    const char *kind = argc > 4 ? argv[4] : "spsc";
    if (strcmp(kind, "mpsc") == 0) co.kind = SHMEM_CHANNEL_MPSC;
    else if (strcmp(kind, "mpmc") == 0) co.kind = SHMEM_CHANNEL_MPMC;
    uint64_t size;
    if ((r = shmem_channel_byte_length(&co, &size)) < 0) return fail("options", r);
    if ((r = shmem_posix_create(&seg, name, size, &opts, &err)) < 0) return fail(err.syscall, r);
    if ((r = shmem_channel_init(&ch, seg.data, seg.size, &co)) < 0) return fail("init", r);
    printf("created %s: capacity %llu, max message %llu\n", seg.name,
           (unsigned long long)ch.capacity, (unsigned long long)ch.max_message_size);
    shmem_channel_detach(&ch);
    shmem_segment_close(&seg);
    return 0;
  }

  long count = strtol(argv[3], NULL, 10);
  if ((r = shmem_posix_open(&seg, name, &opts, &err)) < 0) return fail(err.syscall, r);
  if ((r = shmem_channel_attach(&ch, seg.data, seg.size)) < 0) return fail("attach", r);
  int status = 0;
  int64_t deadline = shmem_now_ns() + 30LL * 1000000000; /* give up after 30 s */

  if (strcmp(cmd, "send") == 0) {
    char msg[64];
    for (long i = 0; i < count; i++) {
      int n = snprintf(msg, sizeof(msg), "message %ld", i);
      if ((r = shmem_channel_send_wait(&ch, msg, (uint64_t)n, deadline)) < 0) {
        status = fail("send", r);
        break;
      }
    }
    if (status == 0) printf("sent %ld\n", count);
  } else if (strcmp(cmd, "receive") == 0) {
    char buf[256], want[64];
    long i;
    for (i = 0; i < count; i++) {
      uint64_t len;
      r = shmem_channel_receive_wait(&ch, buf, sizeof(buf) - 1, &len, deadline);
      if (r < 0) {
        status = fail("receive", r);
        break;
      }
      buf[len] = '\0';
      snprintf(want, sizeof(want), "message %ld", i);
      if (strcmp(buf, want) != 0) {
        fprintf(stderr, "channel: got \"%s\", expected \"%s\"\n", buf, want);
        status = 1;
        break;
      }
    }
    if (status == 0) printf("received %ld in order\n", i);
  } else {
    fprintf(stderr, "channel: unknown command %s\n", cmd);
    status = 2;
  }
  shmem_channel_detach(&ch);
  shmem_segment_close(&seg);
  return status;
}
