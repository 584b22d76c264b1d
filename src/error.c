/* Names and descriptions of the errors the core returns: negative errno values and our own. */
#include "internal.h"

#include <string.h>

#define SHMEM_ERRNO_MAP(X)                                                                      \
  X(EPERM) X(ENOENT) X(ESRCH) X(EINTR) X(EIO) X(ENXIO) X(E2BIG) X(EBADF) X(EAGAIN) X(ENOMEM)    \
  X(EACCES) X(EFAULT) X(EBUSY) X(EEXIST) X(EXDEV) X(ENODEV) X(ENOTDIR) X(EISDIR) X(EINVAL)      \
  X(ENFILE) X(EMFILE) X(ETXTBSY) X(EFBIG) X(ENOSPC) X(ESPIPE) X(EROFS) X(EMLINK) X(ERANGE)      \
  X(ENAMETOOLONG) X(ENOSYS) X(ENOTSUP) X(EOVERFLOW) X(EIDRM) X(ETIMEDOUT) X(EDEADLK)           \
  X(EOWNERDEAD) X(ENOTRECOVERABLE) X(ELOOP) X(EDQUOT)

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
#define SHMEM_ERRNO_CASE(name) \
  case -name:                  \
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
    default:
      return err < 0 && err > -4096 ? strerror(-err) : "unknown error";
  }
}
