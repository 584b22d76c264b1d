/*
 * shmem: shared memory segments for C programs and for the Node.js addon built on them.
 *
 * Plain C (gnu11), no Node types: a C program can link libshmem.a (`make`) and use every
 * function here on its own. Conventions follow libuv:
 *   - every function that can fail returns 0 or a negative error: -errno, or one of the
 *     SHMEM_E* values below, which lie outside errno's range;
 *   - a shmem_err_t, when the caller passes one, also names the system call that failed;
 *   - structures are owned by the caller (on the stack or embedded in a bigger struct).
 */
#ifndef SHMEM_H
#define SHMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHMEM_VERSION_MAJOR 0
#define SHMEM_VERSION_MINOR 1
#define SHMEM_VERSION_PATCH 0

/* Errors of our own. Each is negative and far below -4096, the most negative errno. */
#define SHMEM_ETOOSMALL (-30001)    /* the object is smaller than the mapping asked for */
#define SHMEM_ENOHUGEPAGES (-30002) /* huge pages asked for, and the system has none free */
#define SHMEM_EBADSTATE (-30003)    /* a structure in shared memory failed validation */
#define SHMEM_EKIND (-30004)        /* the operation does not apply to this kind of segment */
#define SHMEM_EFULL (-30005)        /* a shared map is full and may not evict (evict 'none') */

/* The short name of an error: "ENOENT", "SHMEM_ETOOSMALL". Never NULL. */
const char *shmem_err_name(int err);
/* A one-line description of an error. Never NULL. */
const char *shmem_strerror(int err);
/* The lower-case text Node.js (libuv) gives a negative errno, "no such file or directory",
 * for the errnos the core returns; NULL for any other value, and for an errno libuv has no
 * text for (EIDRM). Bindings use it to word errors as Node's fs module does. */
const char *shmem_err_node_text(int err);

typedef struct shmem_err_s {
  int code;            /* the value the function returned */
  const char *syscall; /* a static string naming the call that failed, or NULL */
} shmem_err_t;

typedef enum shmem_kind_e {
  SHMEM_KIND_POSIX = 1, /* shm_open(3) */
  SHMEM_KIND_SYSV = 2,  /* shmget(2) */
  SHMEM_KIND_MEMFD = 3, /* memfd_create(2) */
  SHMEM_KIND_FILE = 4   /* a file mapped with mmap(2) */
} shmem_kind_t;

/* Flags for shmem_options_t.flags. The SHMEM_F_LOCK* pair is exclusive. */
enum {
  SHMEM_F_READONLY = 1 << 0,    /* map PROT_READ only; open the object read-only */
  SHMEM_F_POPULATE = 1 << 1,    /* prefault every page now (and fail now if memory is short) */
  SHMEM_F_HUGETLB = 1 << 2,     /* back the segment with hugetlb pages (memfd, System V) */
  SHMEM_F_LOCK = 1 << 3,        /* mlock(2) the whole mapping */
  SHMEM_F_LOCK_ONFAULT = 1 << 4, /* mlock2(2) with MLOCK_ONFAULT */
  SHMEM_F_PRIVATE = 1 << 5,     /* files: MAP_PRIVATE, writes stay in this process */
  SHMEM_F_CREATE = 1 << 6,      /* files: create when missing, extend when shorter */
  SHMEM_F_SEAL = 1 << 7         /* memfd: seal the size (F_SEAL_SHRINK | F_SEAL_GROW) */
};

typedef struct shmem_options_s {
  unsigned flags;    /* SHMEM_F_* */
  unsigned mode;     /* permission bits of an object this call creates */
  uint64_t size;     /* bytes to map when opening; 0: the whole object (from the offset on) */
  uint64_t offset;   /* files and fds: the byte of the object the mapping starts at */
  const char *name;  /* memfd: the name /proc shows (may be NULL) */
} shmem_options_t;

/* Sets flags 0, mode 0600, size 0, offset 0, name NULL. */
void shmem_options_init(shmem_options_t *opts);

#define SHMEM_NAME_MAX 255 /* longest POSIX name, not counting its leading '/' */

typedef struct shmem_segment_s {
  /* Read these; do not write them. */
  void *data;        /* the segment's first byte */
  uint64_t size;     /* its length */
  shmem_kind_t kind;
  int fd;            /* the segment's own descriptor (close-on-exec), or -1 (System V) */
  int shmid;         /* System V: the id; else -1 */
  int32_t key;       /* System V: the key; else 0 */
  unsigned flags;    /* the SHMEM_F_* the mapping was made with */
  int created;       /* 1 when this call created the object */
  char name[SHMEM_NAME_MAX + 2]; /* POSIX: the normalized "/name"; memfd: its name; else "" */
  /* Private. */
  void *map_base;    /* start of the mapping: data rounded down to a page */
  uint64_t map_length;
} shmem_segment_t;

/* Normalizes a POSIX name into out ("x" and "/x" give "/x"). -EINVAL for an empty name, one
 * with '/' after the first byte, "." or ".."; -ENAMETOOLONG past SHMEM_NAME_MAX. */
int shmem_name_normalize(const char *name, char *out, size_t out_size);

/* POSIX objects. create fails with -EEXIST when the name exists; open maps opts->size bytes
 * (0: the whole object) and fails with SHMEM_ETOOSMALL when the object is shorter. */
int shmem_posix_create(shmem_segment_t *seg, const char *name, uint64_t size,
                       const shmem_options_t *opts, shmem_err_t *err);
int shmem_posix_open(shmem_segment_t *seg, const char *name, const shmem_options_t *opts,
                     shmem_err_t *err);
/* Creates, or opens what exists; seg->created tells which. An object that exists and is
 * shorter than size gives SHMEM_ETOOSMALL (it is never truncated). */
int shmem_posix_open_or_create(shmem_segment_t *seg, const char *name, uint64_t size,
                               const shmem_options_t *opts, shmem_err_t *err);
/* 0, or -ENOENT when there was nothing to unlink. */
int shmem_posix_unlink(const char *name, shmem_err_t *err);

/* An anonymous memfd of size bytes. Linux only (-ENOSYS elsewhere). */
int shmem_memfd_create(shmem_segment_t *seg, uint64_t size, const shmem_options_t *opts,
                       shmem_err_t *err);
/* Maps an fd the caller holds; the segment keeps its own duplicate, so the caller may close
 * fd afterwards. The kind is read from the fd (memfd, a POSIX object, or a file). A POSIX
 * object gets its name only while that name still leads to this very object: one already
 * unlinked has seg->name "" (and shmem_segment_unlink gives -ENOENT). */
int shmem_fd_map(shmem_segment_t *seg, int fd, const shmem_options_t *opts, shmem_err_t *err);
/* Maps a file. Without SHMEM_F_CREATE a missing file is -ENOENT and a short one
 * SHMEM_ETOOSMALL. The offset need not be page-aligned. A symlink as the path's last
 * component is refused (-ELOOP: O_NOFOLLOW). With SHMEM_F_CREATE the file is created
 * (O_EXCL), or an existing one is used and extended only when it is a regular file owned by
 * the caller's effective user: -EPERM for another user's file, -ENODEV (-EISDIR) for
 * anything but a regular file. */
int shmem_file_map(shmem_segment_t *seg, const char *path, const shmem_options_t *opts,
                   shmem_err_t *err);

/* System V. SHMEM_KEY_FRESH asks create for a random key no segment uses yet. */
#define SHMEM_KEY_FRESH INT64_MIN
int shmem_sysv_create(shmem_segment_t *seg, int64_t key, uint64_t size,
                      const shmem_options_t *opts, shmem_err_t *err);
int shmem_sysv_open(shmem_segment_t *seg, int32_t key, const shmem_options_t *opts,
                    shmem_err_t *err);
int shmem_sysv_open_id(shmem_segment_t *seg, int shmid, const shmem_options_t *opts,
                       shmem_err_t *err);
/* 0, or -ENOENT when no segment has that key (or id). */
int shmem_sysv_remove(int32_t key, shmem_err_t *err);
int shmem_sysv_remove_id(int shmid, shmem_err_t *err);

/* Unmaps (or detaches) and closes the descriptor. Safe to call twice. */
void shmem_segment_close(shmem_segment_t *seg);
/* Removes the segment's name: shm_unlink for POSIX, IPC_RMID for System V, SHMEM_EKIND for
 * the others. Works before and after close. 0, or -ENOENT when it was already gone. */
int shmem_segment_unlink(shmem_segment_t *seg, shmem_err_t *err);

/* Memory controls. offset and length are relative to seg->data and are widened to whole
 * pages; length 0 means "to the end". A range past the end is -ERANGE. */
int shmem_advise(shmem_segment_t *seg, int advice, uint64_t offset, uint64_t length,
                 shmem_err_t *err);
/* Returns 1 when madvise(2) may be asked for advice through this API, else 0. Advice that
 * can make memory fault (MADV_HWPOISON, guard pages) is refused. */
int shmem_advice_allowed(int advice);

enum { SHMEM_SYNC_ASYNC = 1, SHMEM_SYNC_INVALIDATE = 2 };
int shmem_sync(shmem_segment_t *seg, uint64_t offset, uint64_t length, int flags,
               shmem_err_t *err);
int shmem_residency(shmem_segment_t *seg, uint64_t offset, uint64_t length,
                    uint64_t *resident_pages, uint64_t *total_pages, shmem_err_t *err);
int shmem_lock_memory(shmem_segment_t *seg, int on_fault, shmem_err_t *err);
int shmem_unlock_memory(shmem_segment_t *seg, shmem_err_t *err);

typedef struct shmem_stat_s {
  uint64_t size;     /* the object's size (a file's length; a System V segment's shm_segsz) */
  uint64_t allocated; /* bytes of memory or disk the object holds now (st_blocks * 512) */
  uint32_t mode;     /* permission bits */
  uint32_t uid, gid;
  uint64_t ino, dev, nlink;
  double atime_ms, mtime_ms, ctime_ms; /* System V: attach, detach and change times */
  /* System V only (else 0). */
  uint32_t cuid, cgid;
  uint64_t nattch;
  int32_t cpid, lpid;
} shmem_stat_t;
int shmem_segment_stat(shmem_segment_t *seg, shmem_stat_t *st, shmem_err_t *err);

/* Raw mmap(2) with the checks that keep the result safe to touch: MAP_FIXED and PROT_NONE are
 * refused (-EINVAL); offset must be a multiple of the page size. A file shorter than
 * offset + size is mapped as far as it goes and private anonymous memory stands in for the
 * whole pages past its end (they read as zeros and writes to them reach no file), so no touch
 * faults while the file keeps its size; with MAP_HUGETLB that is SHMEM_ETOOSMALL instead.
 * Regular files, POSIX and memfd objects, block devices (Linux) and /dev/zero are mapped;
 * any other fd, whose size cannot be checked, is -ENODEV. advice, when >= 0, is given to
 * madvise(2) for the whole mapping. */
int shmem_map(void **addr, uint64_t size, int prot, int flags, int fd, uint64_t offset,
              int advice, shmem_err_t *err);
/* Unmaps what shmem_map mapped: pass the same size and flags (hugetlb rounds the length). */
int shmem_unmap(void *addr, uint64_t size, int flags);
/* Lets go of what shmem_map mapped but keeps its addresses: private anonymous zero pages with
 * prot take its place (MAP_FIXED), for memory that cannot be detached (a SharedArrayBuffer).
 * shmem_unmap() frees them later. */
int shmem_map_release(void *addr, uint64_t size, int prot, int flags);
/* Describes a shmem_map mapping as a segment (no fd, no name) for shmem_advise, shmem_sync
 * and shmem_residency; nothing is opened and nothing needs closing. */
void shmem_map_segment(shmem_segment_t *seg, void *addr, uint64_t size, int flags);

size_t shmem_page_size(void);
/* The default huge page size in bytes, or 0 when the system has none. */
uint64_t shmem_huge_page_size(void);


/* Process-shared futexes (Linux; -ENOSYS elsewhere). Every wait in shmem sleeps on these. */

/* CLOCK_MONOTONIC now, in nanoseconds: the clock the deadlines below use. */
int64_t shmem_now_ns(void);
/* Sleeps while *addr == expected, until woken or until deadline_ns (absolute, shmem_now_ns()
 * time; negative: no deadline). 0 when woken (or spuriously), -EAGAIN when *addr != expected
 * on entry, -ETIMEDOUT, -EINTR. The caller re-checks its condition in every case. */
int shmem_futex_wait(const uint32_t *addr, uint32_t expected, int64_t deadline_ns);
/* Wakes up to count sleepers on addr in any process; returns how many it woke, or -errno. */
int shmem_futex_wake(const uint32_t *addr, int count);
/* 1 when more tasks are runnable than CPUs are online (/proc/loadavg, looked at again at most
 * once a millisecond), so that a waiter should sleep at once rather than spin or yield; 0
 * otherwise, or when that cannot be known. */
int shmem_cpus_crowded(void);


/* Whole-file locks (flock(2)) and thread identity, for the locks. */
typedef enum shmem_flock_mode_e {
  SHMEM_FLOCK_SHARED = 1,
  SHMEM_FLOCK_EXCLUSIVE = 2,
  SHMEM_FLOCK_UNLOCK = 3
} shmem_flock_mode_t;

/* flock(2) on fd's open file description. 0, -EAGAIN when nonblocking and another description
 * holds a conflicting lock, or -errno. */
int shmem_flock(int fd, shmem_flock_mode_t mode, int nonblocking);
/* Waits for the lock until deadline_ns (shmem_now_ns() time, negative: none) by polling (a
 * release is seen within 2 ms); -ETIMEDOUT, or -ECANCELED once *cancel becomes non-zero. */
int shmem_flock_until(int fd, shmem_flock_mode_t mode, int64_t deadline_ns,
                      const volatile int *cancel);

/* The calling thread's kernel id (gettid), unique among live threads of a PID namespace. */
int32_t shmem_thread_id(void);
/* The thread's start time in clock ticks since boot (field 22 of /proc/<tid>/stat): with the
 * id it names a thread for good, since ids are reused. -ESRCH when no such thread lives
 * (also for a zombie: a killed process its parent has not yet reaped). */
int shmem_thread_start_time(int32_t tid, uint64_t *start);
/* 1 when thread tid lives and started at start (start 0: any start), 0 when it is gone:
 * shmem_liveness(tid, start, SHMEM_LIVENESS_THREAD), with "cannot tell" answered 1, since a
 * lock is never taken from an owner on a guess. */
int shmem_thread_alive(int32_t tid, uint64_t start);


/* Liveness: whether the process or thread an id and a start time name still runs. The one
 * rule every lock, every channel and the creator records of gc ask. */
typedef enum shmem_liveness_e {
  SHMEM_LIVENESS_DEAD = 0,   /* gone for good: it will never write to shared memory again */
  SHMEM_LIVENESS_ALIVE = 1,  /* it runs (or did an instant ago) */
  SHMEM_LIVENESS_UNKNOWN = 2 /* this process cannot tell: treat it as alive */
} shmem_liveness_t;

/* Flags for shmem_liveness. */
enum {
  /* id names one thread, not a process: a zombie thread is dead even while other threads of
   * its process run. Without it a zombie process leader (its main thread called
   * pthread_exit(), or the process is exiting right now) is alive while it has other threads. */
  SHMEM_LIVENESS_THREAD = 1 << 0,
  /* start holds only the low 32 bits of the start time (as a channel's words keep it). */
  SHMEM_LIVENESS_START32 = 1 << 1
};

/* What is known of the task (process, or thread with SHMEM_LIVENESS_THREAD) id that started at
 * start (clock ticks since boot, field 22 of /proc/<id>/stat; 0: any start):
 *   DEAD     no task has the id in this pid namespace (kill(id, 0) says ESRCH); an id no task
 *            can have (<= 0, > INT32_MAX); a zombie (killed, not yet reaped), with the thread
 *            rule above; or a task that started at another time (the id was reused).
 *   ALIVE    /proc shows a task with the id, not a zombie, started at start.
 *   UNKNOWN  kill() finds the id but /proc cannot say more: not mounted, hidden (hidepid: a
 *            kill() refused with EPERM too), unreadable, or no /proc on this system. A zombie
 *            or a reused id cannot be told from a live task then.
 * Never fails; costs a kill() and, unless that says ESRCH, a read of /proc/<id>/stat. */
shmem_liveness_t shmem_liveness(int64_t id, uint64_t start, unsigned flags);

/* ============================================================================================
 * Channels: messages between processes through a ring in shared memory.
 * The format is described in docs/channel-format.md. A channel lives in any memory the caller
 * maps (a POSIX object, a memfd, a file); shmem_channel_init formats it, shmem_channel_attach
 * validates it. Every value read from the shared memory is bounds-checked: a peer that writes
 * garbage gives SHMEM_EBADSTATE, never a read or write outside the region.
 * ============================================================================================ */

#define SHMEM_CHANNEL_MAGIC 0x43484d53u  /* "SMHC" in memory order: 'S' 'M' 'H' 'C' */
#define SHMEM_CHANNEL_VERSION 2u
#define SHMEM_CHANNEL_HEADER_SIZE 384u   /* the ring starts here */
#define SHMEM_CHANNEL_RECORD_HEADER 16u  /* bytes in front of every message */
#define SHMEM_CHANNEL_ALIGN 16u          /* records start on multiples of this */
#define SHMEM_CHANNEL_MIN_CAPACITY 64u
#define SHMEM_CHANNEL_MAX_CAPACITY (1ull << 30)
#define SHMEM_CHANNEL_MAX_MESSAGE_SIZE (UINT32_MAX - 64) /* a record's length is a u32 */

typedef enum shmem_channel_kind_e {
  SHMEM_CHANNEL_SPSC = 1, /* one sender, one receiver: no locks at all */
  SHMEM_CHANNEL_MPSC = 2, /* many senders (reservation under a short robust lock), one receiver */
  SHMEM_CHANNEL_MPMC = 3  /* many senders, many receivers (a receive holds a robust lock) */
} shmem_channel_kind_t;

typedef struct shmem_channel_options_s {
  uint64_t capacity;         /* ring bytes; rounded up to a power of two >= 64 */
  uint64_t max_message_size; /* 0: the largest the capacity allows (capacity / 2 - 16) */
  shmem_channel_kind_t kind;
} shmem_channel_options_t;

/* A process's view of one channel. Owned by the caller; one per thread that uses it. */
typedef struct shmem_channel_s {
  /* Read these; do not write them. */
  uint64_t capacity;
  uint64_t max_message_size;
  shmem_channel_kind_t kind;
  uint64_t byte_length; /* header + ring */
  /* Private. */
  unsigned char *base;  /* the header */
  unsigned char *ring;  /* base + SHMEM_CHANNEL_HEADER_SIZE */
  int is_sender, is_receiver;       /* counted in the header's senders / receivers */
  uint64_t reserve_pos;             /* a reservation: position of its record, or UINT64_MAX */
  uint64_t reserve_len;
  int reserve_published;            /* mpsc/mpmc: the record is in the ring as RESERVED */
  uint64_t peek_pos;                /* a peek: position of its record, or UINT64_MAX */
  uint64_t peek_next;               /* the head after it */
  uint64_t peek_len;
  int peek_locked;                  /* mpmc: this view holds the receive lock */
  uint64_t stuck_pos;               /* a RESERVED record seen at the head, and since when */
  int64_t stuck_since_ns;
  int stuck_dead;                   /* its reserver was found dead: reclaim it */
  uint32_t lock_seen_holder;        /* mpmc: the receive lock's holder, and since when */
  int64_t lock_seen_ns;
  uint64_t send_lock_seen;          /* mpsc/mpmc: the send lock's word as last seen, since */
  int64_t send_lock_seen_ns;        /* when, and when its holder's liveness was last read */
  int64_t send_lock_checked_ns;
  int lock_wait;                    /* the last writable() said no for the send lock */
  uint32_t cached_head, cached_tail; /* the peer's counter as last read */
  int cache_valid;
  int64_t spin_ns;                  /* this view's spin budget now, adapted per wait; < 0: unset */
} shmem_channel_t;

typedef struct shmem_channel_stats_s {
  uint64_t capacity, used;
  uint64_t messages_sent, messages_received, bytes_sent, bytes_received;
  uint64_t abandoned; /* reservations of dead senders the receivers skipped */
  uint32_t senders, receivers;
} shmem_channel_stats_t;

/* Bytes a channel with these options needs (header + ring), in *out; -EINVAL or -ERANGE for
 * options that cannot be met. Applies the rounding and defaults init applies. */
int shmem_channel_byte_length(const shmem_channel_options_t *opts, uint64_t *out);
/* Formats size bytes at mem as an empty channel and attaches ch to it. -ERANGE when size is
 * smaller than shmem_channel_byte_length. mem must be 64-byte aligned. */
int shmem_channel_init(shmem_channel_t *ch, void *mem, uint64_t size,
                       const shmem_channel_options_t *opts);
/* Attaches ch to the channel at mem after validating its header (SHMEM_EBADSTATE). */
int shmem_channel_attach(shmem_channel_t *ch, void *mem, uint64_t size);
/* Aborts an open reservation, releases a peek and stops counting ch as a sender/receiver. */
void shmem_channel_detach(shmem_channel_t *ch);

/* Sends len bytes: 0, -EAGAIN when the ring has no room now, -EMSGSIZE over max_message_size,
 * -EBUSY while ch holds a reservation, SHMEM_EBADSTATE. */
int shmem_channel_send(shmem_channel_t *ch, const void *data, uint64_t len);
/* The same, waiting for room until deadline_ns (shmem_now_ns() time; < 0: none):
 * -ETIMEDOUT when it passes. */
int shmem_channel_send_wait(shmem_channel_t *ch, const void *data, uint64_t len,
                            int64_t deadline_ns);
/* Receives one message into buf: 0 and *len, -EAGAIN when there is none, -ENOBUFS when it is
 * longer than buf_size (*len says how long; the message stays). */
int shmem_channel_receive(shmem_channel_t *ch, void *buf, uint64_t buf_size, uint64_t *len);
int shmem_channel_receive_wait(shmem_channel_t *ch, void *buf, uint64_t buf_size,
                               uint64_t *len, int64_t deadline_ns);

/* Zero copy, sending: room for n bytes in the ring at *data; then commit (with the length
 * actually written, <= n) or abort. One reservation at a time per ch. */
int shmem_channel_reserve(shmem_channel_t *ch, uint64_t n, void **data);
int shmem_channel_commit(shmem_channel_t *ch, uint64_t len);
int shmem_channel_abort(shmem_channel_t *ch);
/* Zero copy, receiving: the next message in place (-EAGAIN when none), valid until release.
 * On mpmc a peek holds the receive lock: release it soon. */
int shmem_channel_peek(shmem_channel_t *ch, const void **data, uint64_t *len);
int shmem_channel_release(shmem_channel_t *ch);
/* Ends a peek without consuming: the message stays the next one. */
int shmem_channel_unpeek(shmem_channel_t *ch);

/* Waits until a message may be there (1) or there is room for n bytes (2) without taking it:
 * 0, -ETIMEDOUT, -ECANCELED when *cancel became nonzero (see shmem_channel_interrupt). */
int shmem_channel_wait_readable(shmem_channel_t *ch, int64_t deadline_ns,
                                const volatile int *cancel);
int shmem_channel_wait_writable(shmem_channel_t *ch, uint64_t n, int64_t deadline_ns,
                                const volatile int *cancel);
/* Wakes every waiter of this channel in this and other processes (they re-check and, when
 * their cancel flag is set, return -ECANCELED). */
void shmem_channel_interrupt(shmem_channel_t *ch);
/* Wakes the receivers (SHMEM_CHANNEL_NOTIFY_READERS) or senders (..._WRITERS) that sleep on
 * this channel, when any do. For code that moves the head or tail itself (the JS fast path). */
#define SHMEM_CHANNEL_NOTIFY_READERS 1
#define SHMEM_CHANNEL_NOTIFY_WRITERS 2
void shmem_channel_notify(shmem_channel_t *ch, int which);
/* Forgets the peer's counter this view cached (it re-reads it on the next call). For code
 * that also sends or receives on this ring by other means with the same role (the JS fast
 * path): a cached counter is only valid while this view's own counter moved less than 2^32. */
void shmem_channel_forget(shmem_channel_t *ch);

void shmem_channel_stats(shmem_channel_t *ch, shmem_channel_stats_t *st);
/* 1 when a committed message is at the head now (a hint: another receiver may take it). */
int shmem_channel_readable(shmem_channel_t *ch);

/* ============================================================================================
 * End of Channels.
 * ============================================================================================ */

/* ============================================================================================
 * Shared maps: a key-value cache in shared memory (SharedMap in JavaScript).
 * The format is described in docs/map-format.md. Named shmem_shared_map_* because shmem_map is
 * the raw mmap(2) above. A map lives in any memory the caller maps; shmem_shared_map_init
 * formats it, shmem_shared_map_attach validates it. Readers take no lock and never wait: each
 * entry carries a sequence counter, a read copies the entry and checks the counter did not
 * move, and a write never changes a published entry (it writes a free one and swaps the index
 * word). Writers take one robust lock word {pid, start time}; a writer that dies holding it is
 * taken over by the next, which repairs the map from its index (stats.recoveries counts it).
 * Every value read from the shared memory is bounds-checked: garbage gives SHMEM_EBADSTATE,
 * never a read or write outside the region.
 * ============================================================================================ */

#define SHMEM_SHARED_MAP_MAGIC 0x50414d53u   /* "SMAP" in memory order */
#define SHMEM_SHARED_MAP_VERSION 1u
#define SHMEM_SHARED_MAP_HEADER_SIZE 320u    /* the index starts here */
#define SHMEM_SHARED_MAP_ENTRY_HEADER 48u    /* bytes in front of every entry's key */
#define SHMEM_SHARED_MAP_MAX_CAPACITY (1u << 26)
#define SHMEM_SHARED_MAP_MAX_KEY_BYTES 65536u
#define SHMEM_SHARED_MAP_MAX_VALUE_BYTES (1u << 30)

typedef enum shmem_shared_map_evict_e {
  SHMEM_SHARED_MAP_EVICT_NONE = 0, /* a full map refuses new keys: SHMEM_EFULL */
  SHMEM_SHARED_MAP_EVICT_LRU = 1   /* a full map evicts a key not read lately (CLOCK) */
} shmem_shared_map_evict_t;

/* How values are encoded, kept in the header for every process that attaches; the core
 * stores bytes whatever it says (JavaScript encodes). increment() reads and writes a value
 * as a decimal integer in ASCII, as Redis does, under every encoding but V8. */
typedef enum shmem_shared_map_encoding_e {
  SHMEM_SHARED_MAP_BYTES = 0,
  SHMEM_SHARED_MAP_UTF8 = 1,
  SHMEM_SHARED_MAP_JSON = 2,
  SHMEM_SHARED_MAP_V8 = 3
} shmem_shared_map_encoding_t;

typedef struct shmem_shared_map_options_s {
  uint32_t capacity;        /* entries, 1 to SHMEM_SHARED_MAP_MAX_CAPACITY */
  uint32_t max_key_bytes;   /* 1 to SHMEM_SHARED_MAP_MAX_KEY_BYTES */
  uint32_t max_value_bytes; /* 0 to SHMEM_SHARED_MAP_MAX_VALUE_BYTES */
  uint32_t evict;           /* shmem_shared_map_evict_t */
  uint32_t encoding;        /* shmem_shared_map_encoding_t */
  uint64_t default_ttl_ms;  /* a set without a ttl of its own expires after this; 0: never */
} shmem_shared_map_options_t;

/* A process's view of one map. Owned by the caller; one per thread that uses it. */
typedef struct shmem_shared_map_s {
  /* Read these; do not write them (lock_timeout_ns may be set). */
  uint32_t capacity, max_key_bytes, max_value_bytes, evict, encoding;
  uint64_t default_ttl_ms;
  uint64_t byte_length;    /* header + index + entries */
  int64_t lock_timeout_ns; /* a writer waits this long for the lock (< 0: for ever); 10 s */
  /* Private. */
  unsigned char *base;
  uint64_t *index;
  unsigned char *entries;
  uint32_t slots, nentries, entry_size;
  uint64_t seed;
  int held;                /* lock() depth of this view */
  int owns_lock;           /* this view holds the writer lock */
  uint32_t pending_hits, pending_misses; /* counted here, added to the header in batches */
} shmem_shared_map_t;

typedef struct shmem_shared_map_stats_s {
  uint64_t entries;   /* live entries (expired ones count until a writer removes them) */
  uint64_t bytes;     /* key and value bytes of those */
  uint64_t capacity;
  uint64_t hits, misses, evictions, expirations, recoveries;
} shmem_shared_map_stats_t;

/* Bytes a map with these options needs, in *out; -EINVAL or -ERANGE for options that cannot
 * be met. */
int shmem_shared_map_byte_length(const shmem_shared_map_options_t *opts, uint64_t *out);
/* Formats size bytes at mem (64-byte aligned) as an empty map and attaches m to it. -ERANGE
 * when size is smaller than shmem_shared_map_byte_length. */
int shmem_shared_map_init(shmem_shared_map_t *m, void *mem, uint64_t size,
                          const shmem_shared_map_options_t *opts);
/* Attaches m to the map at mem after validating its header (SHMEM_EBADSTATE). */
int shmem_shared_map_attach(shmem_shared_map_t *m, void *mem, uint64_t size);
/* Adds this view's counts to the header and lets go of the lock if it holds it. */
void shmem_shared_map_detach(shmem_shared_map_t *m);

/* Keys are 0 to max_key_bytes bytes (-ERANGE beyond, for every call taking a key). */
/* Copies the value of key into buf: 0 and *len; -ENOENT when absent or expired; -ENOBUFS when
 * it is longer than buf_size (*len says how long). Never waits; counts a hit or a miss. */
int shmem_shared_map_get(shmem_shared_map_t *m, const void *key, uint32_t key_len, void *buf,
                         uint64_t buf_size, uint64_t *len);
/* 1 when key is there and not expired, 0 when not. Counts nothing. */
int shmem_shared_map_has(shmem_shared_map_t *m, const void *key, uint32_t key_len);
/* Sets key to value. ttl_ms: < 0 the map's default, 0 never expires, else milliseconds.
 * key_flags: 8 bits the map keeps with the key (JavaScript: whether it was a string). 0;
 * -ERANGE for a value over max_value_bytes; SHMEM_EFULL when full under evict 'none';
 * -ETIMEDOUT when the lock stayed held past lock_timeout_ns; SHMEM_EBADSTATE. */
int shmem_shared_map_set(shmem_shared_map_t *m, const void *key, uint32_t key_len,
                         uint32_t key_flags, const void *value, uint64_t value_len,
                         int64_t ttl_ms);
/* 1 when key was there and is removed, 0 when it was not. */
int shmem_shared_map_delete(shmem_shared_map_t *m, const void *key, uint32_t key_len);
/* Adds by to the decimal integer value of key (absent: 0, kept with the map's default ttl;
 * present: its ttl kept), as Redis INCRBY: the new value in *out. -EINVAL when the value is
 * not a decimal integer; -ERANGE when the result's magnitude would pass limit. */
int shmem_shared_map_increment(shmem_shared_map_t *m, const void *key, uint32_t key_len,
                               uint32_t key_flags, int64_t by, int64_t limit, int64_t *out);
/* Removes every key. Readers at the same time see each key or a miss. */
int shmem_shared_map_clear(shmem_shared_map_t *m);
/* Removes the expired keys; how many in *removed (may be NULL). */
int shmem_shared_map_purge(shmem_shared_map_t *m, uint64_t *removed);
/* Holds the writer lock across several calls (read, compute, write as one step): set, delete
 * and the others on this view then take it no more. Nests; unlock once per lock. lock: 0, 1
 * when it was taken over from a dead writer (the map was repaired), -ETIMEDOUT. */
int shmem_shared_map_lock(shmem_shared_map_t *m);
void shmem_shared_map_unlock(shmem_shared_map_t *m);

/* Iteration: the entry at or after *cursor (start at 0), copied whole and consistent. 0 with
 * *cursor moved past it; -ENOENT at the end; -ENOBUFS when a buffer is too small (*key_len,
 * *value_len say how long; *cursor stays). Entries set or removed during a walk may be seen
 * or not; clear() or a rebuild of the index during one may show an entry twice. */
typedef struct shmem_shared_map_item_s {
  void *key;          /* in: where the key goes, and its room */
  uint64_t key_size;
  void *value;        /* in: where the value goes, and its room */
  uint64_t value_size;
  uint32_t key_len, key_flags; /* out */
  uint64_t value_len;          /* out */
} shmem_shared_map_item_t;
int shmem_shared_map_next(shmem_shared_map_t *m, uint64_t *cursor,
                          shmem_shared_map_item_t *item);

void shmem_shared_map_stats(shmem_shared_map_t *m, shmem_shared_map_stats_t *st);

/* ============================================================================================
 * End of Shared maps.
 * ============================================================================================ */

#ifdef __cplusplus
}
#endif
#endif /* SHMEM_H */
