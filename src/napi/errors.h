/* The errors the Node-API layer throws: one table, each row a condition with its JS class, its
 * code and its message format (as libuv's UV_ERRNO_MAP and Node's E() in
 * lib/internal/errors.js keep theirs). A throw site names the row and passes the format's
 * arguments; the words live here only. The JS side's codes are in lib/errors.js; where both
 * throw a code for the same condition (ERR_SHMEM_CLOSED, ERR_SHMEM_BAD_STATE, ERR_INVALID_STATE),
 * the format here is the registry's, so the message is the same whichever layer throws it
 * (test/binding-errors.test.js holds them equal).
 *
 * Errors of the system (an errno: ENOMEM, EACCES) are not rows: shmem_napi_throw_errno() and
 * shmem_napi_throw_core() word them as Node words its own, with .errno and .syscall. */
#ifndef SHMEM_NAPI_ERRORS_H
#define SHMEM_NAPI_ERRORS_H

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

/* The detail of an ERR_SHMEM_BAD_STATE for bytes that hold no valid structure. */
#define SHMEM_NAPI_GARBAGE "it was never initialized, or another process overwrote it"

/* X(row, JS class, code, message format): the arguments a throw passes are the format's. */
#define SHMEM_NAPI_ERRORS(X)                                                                  \
  /* Arguments, worded as Node words them. */                                                 \
  X(MISSING_ARGS, TypeError, "ERR_MISSING_ARGS", "%d arguments are required, %zu given")      \
  X(ARG_TYPE, TypeError, "ERR_INVALID_ARG_TYPE",                                              \
    "The \"%s\" argument must be %s. Received type %s")                                       \
  X(ARG_RANGE, RangeError, "ERR_OUT_OF_RANGE",                                                \
    "The value of \"%s\" is out of range. It must be %s. Received %s")                        \
  X(ARG_TOO_LONG, TypeError, "ERR_INVALID_ARG_VALUE",                                         \
    "The argument '%s' is too long (%zu bytes of UTF-8; at most %zu)")                        \
  X(ARG_NUL_BYTES, TypeError, "ERR_INVALID_ARG_VALUE",                                        \
    "The argument '%s' must be a string without null bytes")                                  \
  X(ARG_ADVICE, TypeError, "ERR_INVALID_ARG_VALUE",                                           \
    "The argument 'advice' is not advice this package passes to madvise(2). Received %lld")   \
  X(ARG_TIMEOUT, TypeError, "ERR_INVALID_ARG_VALUE",                                          \
    "The argument '%s' must be a number of milliseconds, or -1 or Infinity for no limit. "    \
    "Received NaN")                                                                           \
  X(ARG_UNALIGNED, RangeError, "ERR_INVALID_ARG_VALUE",                                       \
    "The argument 'offset' must give a 4-byte aligned address. Received %llu")                \
  X(OPTIONS_KIND, TypeError, "ERR_INVALID_ARG_VALUE",                                         \
    "The options do not apply to this kind of segment%s")                                     \
  /* Segments and mappings. */                                                                \
  X(CLOSED, Error, "ERR_SHMEM_CLOSED", "%s is closed")                                        \
  X(ENV_CLOSING, Error, "ERR_SHMEM_CLOSED", "The environment is shutting down")               \
  X(BAD_STATE, Error, "ERR_SHMEM_BAD_STATE", "%s failed validation: %s")                      \
  X(KIND_UNSUPPORTED, Error, "ERR_SHMEM_UNSUPPORTED",                                         \
    "The operation does not apply to this kind of segment%s")                                 \
  X(TOO_SMALL, RangeError, "ERR_OUT_OF_RANGE",                                                \
    "The object%s is smaller than the mapping asked for: a mapping past its end would fault " \
    "(SIGBUS) when touched")                                                                  \
  X(NO_HUGEPAGES, Error, "ERR_SHMEM_NO_HUGEPAGES",                                            \
    "No huge pages are free on this system (reserve some with sysctl vm.nr_hugepages=N), "    \
    "%s%s")                                                                                   \
  X(ARRAYBUFFER_TOO_LARGE, RangeError, "ERR_OUT_OF_RANGE",                                    \
    "An ArrayBuffer of %llu bytes is more than this Node.js allows "                          \
    "(buffer.constants.MAX_LENGTH): use segment.view() with a smaller length")                \
  X(NO_EXTERNAL_BUFFERS, Error, "ERR_SHMEM_NO_EXTERNAL_BUFFERS",                              \
    "this runtime refuses external ArrayBuffers (the V8 memory sandbox, as in Electron): "    \
    "shared memory cannot be handed to JavaScript here")                                      \
  X(NAPI_FAILED, Error, "ERR_SHMEM_NAPI", "Node-API call failed: %s")                         \
  X(NO_SHARED_ARRAY_BUFFER, Error, "ERR_SHMEM_UNSUPPORTED",                                   \
    "This runtime cannot make a SharedArrayBuffer over shared memory: that needs "            \
    "node_api_create_external_sharedarraybuffer, in Node.js 22.23.3 and later 22.x, 24.16.0 " \
    "and later 24.x, 26.1.0 and later, and Bun (use an ArrayBuffer here: segment.buffer, "    \
    "segment.view() without { shared: true }, or compat/mmap-io rather than mmap-io@1.6)")                                                          \
  /* Waits and file locks. */                                                                 \
  X(NO_WORD, RangeError, "ERR_OUT_OF_RANGE", "The segment holds no 32-bit word")              \
  X(FLOCK_NO_FD, Error, "ERR_SHMEM_UNSUPPORTED",                                              \
    "File locks need a file descriptor; System V segments have none")                         \
  /* Channels. */                                                                             \
  X(CHANNEL_OPTIONS, RangeError, "ERR_OUT_OF_RANGE",                                          \
    "The channel options are out of range: the capacity must be 1 to 2^30 bytes and "         \
    "maxMessageSize at most half the (rounded) capacity less 16")                             \
  X(CHANNEL_OPTIONS_INVALID, RangeError, "ERR_OUT_OF_RANGE", "The channel options are invalid") \
  X(CHANNEL_TOO_SMALL, RangeError, "ERR_OUT_OF_RANGE",                                        \
    "The channel needs more room than byteLength gives it (see Channel.byteLength())")        \
  X(CHANNEL_READONLY, Error, "ERR_SHMEM_UNSUPPORTED",                                         \
    "A channel needs a writable mapping: this segment is read-only")                          \
  X(CHANNEL_PRIVATE, Error, "ERR_SHMEM_UNSUPPORTED",                                          \
    "A channel needs a shared mapping: this segment is private (MAP_PRIVATE)")                \
  X(MESSAGE_TOO_LARGE, RangeError, "ERR_OUT_OF_RANGE",                                        \
    "The message is larger than the channel's maxMessageSize")                                \
  /* Shared maps. */                                                                          \
  X(MAP_OPTIONS, RangeError, "ERR_OUT_OF_RANGE",                                              \
    "The map options are out of range: capacity 1 to 2^26, maxKeyBytes 1 to 65536, "          \
    "maxValueBytes 0 to 2^30")                                                                \
  X(MAP_TOO_SMALL, RangeError, "ERR_OUT_OF_RANGE",                                            \
    "The map needs more room than byteLength gives it (see SharedMap.byteLength())")          \
  X(MAP_MAPPING, Error, "ERR_SHMEM_UNSUPPORTED",                                             \
    "A SharedMap needs a writable shared mapping: this segment is %s")                        \
  X(MAP_FULL, Error, "ERR_SHMEM_FULL",                                                        \
    "The map is full (%u entries) and may not evict (evict: 'none'): delete keys or make a "  \
    "larger map")                                                                             \
  X(MAP_NOT_INTEGER, Error, "ERR_SHMEM_NOT_INTEGER",                                          \
    "The value of the key is not a decimal integer: increment() counts only integers")        \
  X(TIMED_OUT, Error, "ERR_SHMEM_TIMED_OUT", "Timed out waiting for the %s")                  \
  X(INVALID_STATE, Error, "ERR_INVALID_STATE", "Invalid state: %s")

typedef enum {
#define SHMEM_NAPI_ERROR_ENUM(row, cls, code, format) SHMEM_NAPI_E_##row,
  SHMEM_NAPI_ERRORS(SHMEM_NAPI_ERROR_ENUM)
#undef SHMEM_NAPI_ERROR_ENUM
  SHMEM_NAPI_E_COUNT
} shmem_napi_error_t;

/* Throws the row's error, its message made from the format and the arguments, unless an
 * exception is already pending. */
void shmem_napi_throw_error(napi_env env, shmem_napi_error_t e, ...);

/* ERR_INVALID_ARG_TYPE for the argument name that is not what it must be ("of type number",
 * "a segment handle"), naming the type of value. */
void shmem_napi_throw_arg_type(napi_env env, const char *name, const char *expected,
                               napi_value value);

/* The errno error of a failed system call (r is -errno), as Node words one:
 * `ENOMEM: not enough memory, calloc` with .errno and .syscall. */
void shmem_napi_throw_errno(napi_env env, int r, const char *syscall);

/* The exports that show the table to test/binding-errors.test.js. */
napi_status shmem_napi_errors_init(napi_env env, napi_value exports);

#endif
