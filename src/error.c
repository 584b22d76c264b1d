/* Names and descriptions of the errors the core returns: negative errno values and our own. */
#include "internal.h"

#include <string.h>

/* Every errno the core can return, with the text Node gives it (libuv's UV_ERRNO_MAP), so
 * that the binding's errors read as Node's fs errors without calling libuv (Bun, for one, has
 * no uv_err_name). NULL: libuv does not know the errno; strerror's text serves.
 * test/errors.test.js checks each text against the running Node's util.getSystemErrorMap(). */
#define SHMEM_ERRNO_MAP(X)                                                                 \
  X(EPERM, "operation not permitted")                                                      \
  X(ENOENT, "no such file or directory")                                                   \
  X(ESRCH, "no such process")                                                              \
  X(EINTR, "interrupted system call")                                                      \
  X(EIO, "i/o error")                                                                      \
  X(ENXIO, "no such device or address")                                                    \
  X(E2BIG, "argument list too long")                                                       \
  X(EBADF, "bad file descriptor")                                                          \
  X(EAGAIN, "resource temporarily unavailable")                                            \
  X(ENOMEM, "not enough memory")                                                           \
  X(EACCES, "permission denied")                                                           \
  X(EFAULT, "bad address in system call argument")                                         \
  X(EBUSY, "resource busy or locked")                                                      \
  X(EEXIST, "file already exists")                                                         \
  X(EXDEV, "cross-device link not permitted")                                              \
  X(ENODEV, "no such device")                                                              \
  X(ENOTDIR, "not a directory")                                                            \
  X(EISDIR, "illegal operation on a directory")                                            \
  X(EINVAL, "invalid argument")                                                            \
  X(ENFILE, "file table overflow")                                                         \
  X(EMFILE, "too many open files")                                                         \
  X(ETXTBSY, "text file is busy")                                                          \
  X(EFBIG, "file too large")                                                               \
  X(ENOSPC, "no space left on device")                                                     \
  X(ESPIPE, "invalid seek")                                                                \
  X(EROFS, "read-only file system")                                                        \
  X(EMLINK, "too many links")                                                              \
  X(ERANGE, "result too large")                                                            \
  X(ENAMETOOLONG, "name too long")                                                         \
  X(ENOSYS, "function not implemented")                                                    \
  X(ENOTSUP, "operation not supported on socket")                                          \
  X(EOVERFLOW, "value too large for defined data type")                                    \
  X(EIDRM, NULL)                                                                           \
  X(ETIMEDOUT, "connection timed out")                                                     \
  X(EDEADLK, NULL)                                                                         \
  X(EOWNERDEAD, NULL)                                                                      \
  X(ENOTRECOVERABLE, NULL)                                                                 \
  X(ELOOP, "too many symbolic links encountered")                                          \
  X(EDQUOT, NULL)                                                                          \
  X(EPIPE, "broken pipe")                                                                  \
  X(ENOTTY, "inappropriate ioctl for device")                                              \
  X(ENOTEMPTY, "directory not empty")                                                      \
  X(ENOLCK, NULL)

const char *shmem_err_name(int err) {
  switch (err) {
    case 0:
      return "OK";
    case SHMEM_ETOOSMALL:
      return "SHMEM_ETOOSMALL";
    case SHMEM_ENOHUGEPAGES:
      return "SHMEM_ENOHUGEPAGES";
    case SHMEM_EBADSTATE:
      return "SHMEM_EBADSTATE";
    case SHMEM_EKIND:
      return "SHMEM_EKIND";
    case SHMEM_EFULL:
      return "SHMEM_EFULL";
#define SHMEM_ERRNO_CASE(name, text) \
  case -name:                        \
    return #name;
      SHMEM_ERRNO_MAP(SHMEM_ERRNO_CASE)
#undef SHMEM_ERRNO_CASE
    default:
      return "EUNKNOWN";
  }
}

const char *shmem_strerror(int err) {
  switch (err) {
    case SHMEM_ETOOSMALL:
      return "the object is smaller than the mapping";
    case SHMEM_ENOHUGEPAGES:
      return "no huge pages are free on this system";
    case SHMEM_EBADSTATE:
      return "shared state failed validation";
    case SHMEM_EKIND:
      return "operation does not apply to this kind of segment";
    case SHMEM_EFULL:
      return "the map is full";
    default:
      return err < 0 && err > -4096 ? strerror(-err) : "unknown error";
  }
}

const char *shmem_err_node_text(int err) {
  switch (err) {
#define SHMEM_ERRNO_TEXT(name, text) \
  case -name:                        \
    return text;
    SHMEM_ERRNO_MAP(SHMEM_ERRNO_TEXT)
#undef SHMEM_ERRNO_TEXT
    default:
      return NULL;
  }
}
