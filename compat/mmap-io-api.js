'use strict'
/**
 * A drop-in replacement for the mmap-io package (and its forks @luminati-io/mmap-io and
 * @riaskov/mmap-io), built on shmem:
 *
 *   const mmap = require('shmem/compat/mmap-io')   // was: require('mmap-io')
 *
 * map() returns a Buffer over a file mapping, unmapped when the Buffer is garbage-collected;
 * advise(), sync() and incore() take that Buffer (or a slice of it). Sizes up to
 * buffer.constants.MAX_LENGTH and offsets of any size work. What differs from the original,
 * and why, is in docs/migrating.md.
 */

const { constants: { MAX_LENGTH } } = require('buffer')
const os = require('os')
const shmem = require('..')
const { makeError, invalidArgType, invalidArgValue } = require('../lib/errors')
const { validateInteger, MAX_SAFE } = require('../lib/validate')

const C = shmem.constants
const PAGESIZE = shmem.pageSize

const KNOWN_FLAGS = C.MAP_SHARED | C.MAP_PRIVATE | C.MAP_POPULATE | C.MAP_NONBLOCK
const PROT_ALL = C.PROT_READ | C.PROT_WRITE | C.PROT_EXEC

// Every ArrayBuffer map() made -> its Segment. Weak: the Buffer alone keeps a mapping alive.
const segments = new WeakMap()

function accessError (fd) {
  const errno = os.constants.errno.EACCES
  const err = makeError('EACCES', 'mmap', `fd ${fd}`)
  err.errno = -errno
  err.syscall = 'mmap'
  err.path = `fd ${fd}`
  Error.captureStackTrace(err, map)
  return err
}

/**
 * mmap(2) of fd as a Buffer: map(size, protection, privacy, fd[, offset = 0[, advise = 0]]).
 * protection: PROT_READ, PROT_WRITE (PROT_EXEC is accepted; the memory is mapped readable).
 * privacy: MAP_SHARED or MAP_PRIVATE, optionally | MAP_POPULATE | MAP_NONBLOCK.
 * A mapping past the end of the file is ERR_OUT_OF_RANGE (the original faults when touched).
 */
function map (size, protection, privacy, fd, offset, advise) {
  size = validateInteger(size, 'size', 1, MAX_LENGTH)
  protection = validateInteger(protection, 'protection', 0, 0x7fffffff)
  privacy = validateInteger(privacy, 'privacy', 0, 0x7fffffff)
  fd = validateInteger(fd, 'fd', 0, 0x7fffffff)
  offset = offset === undefined || offset === null
    ? 0
    : validateInteger(offset, 'offset', 0, MAX_SAFE)
  advise = advise === undefined || advise === null ? 0 : validateInteger(advise, 'advise', 0, 0x7fffffff)

  if (protection === C.PROT_NONE || (protection & ~PROT_ALL) !== 0) {
    throw invalidArgValue('protection', protection,
      'must combine PROT_READ, PROT_WRITE and PROT_EXEC (a PROT_NONE Buffer would crash the ' +
      'process when touched)')
  }
  const sharing = privacy & (C.MAP_SHARED | C.MAP_PRIVATE)
  if (sharing !== C.MAP_SHARED && sharing !== C.MAP_PRIVATE) {
    throw invalidArgValue('privacy', privacy, 'must include exactly one of MAP_SHARED and MAP_PRIVATE')
  }
  if ((privacy & ~KNOWN_FLAGS) !== 0) {
    throw invalidArgValue('privacy', privacy,
      'may only combine MAP_SHARED or MAP_PRIVATE with MAP_POPULATE and MAP_NONBLOCK')
  }
  const writable = (protection & C.PROT_WRITE) !== 0
  const isPrivate = sharing === C.MAP_PRIVATE
  const segment = shmem.fromFd(fd, {
    size,
    offset,
    private: isPrivate,
    readOnly: !writable,
    populate: (privacy & C.MAP_POPULATE) !== 0
  })
  try {
    // shmem maps a read-only fd read-only; a shared write mapping of it is EACCES, as mmap says.
    if (writable && segment.readOnly) throw accessError(fd)
    if (advise !== 0) segment.advise(advise)
    const buffer = segment.buffer
    segments.set(buffer.buffer, segment)
    return buffer
  } catch (err) {
    segment.close()
    throw err
  }
}

// The Segment behind a Buffer from map() (or a slice of one), and the slice's offset in it.
function resolve (buffer) {
  if (!(buffer instanceof Uint8Array)) {
    throw invalidArgType('buffer', 'an instance of Buffer returned by map()', buffer)
  }
  const segment = segments.get(buffer.buffer)
  if (segment === undefined) {
    throw invalidArgValue('buffer', buffer.constructor.name,
      'must be a Buffer returned by map() (or a slice of one)')
  }
  return { segment, base: buffer.byteOffset, length: buffer.length }
}

function range (target, offset, length) {
  offset = validateInteger(offset, 'offset', 0, target.length)
  length = validateInteger(length, 'length', 0, target.length - offset)
  return [target.base + offset, length]
}

/**
 * madvise(2): advise(buffer, advise) for the whole Buffer, or
 * advise(buffer, offset, length, advise) for a range of it (widened to whole pages).
 */
function advise (buffer, a, b, c) {
  const target = resolve(buffer)
  let off, len, advice
  if (arguments.length <= 2) {
    if (a === undefined) throw makeError('ERR_MISSING_ARGS', 'advise')
    off = target.base
    len = target.length
    advice = a
  } else if (arguments.length === 4) {
    ;[off, len] = range(target, a, b)
    advice = c
  } else {
    // (buffer, offset, length) lacks its advise; advise() has no form of five or more.
    throw makeError('ERR_MISSING_ARGS', 'advise')
  }
  if (typeof advice !== 'number') throw invalidArgType('advise', 'of type number', advice)
  target.segment.advise(advice, off, len)
}

/**
 * msync(2). sync(buffer), sync(buffer, offset, length), sync(buffer, isBlockingSync[,
 * doPageInvalidation]), sync(buffer, offset = 0, length = buffer.length[, isBlockingSync =
 * false[, doPageInvalidation = false]]). Non-blocking is MS_ASYNC, blocking MS_SYNC.
 */
function sync (buffer, a, b, c, d) {
  const target = resolve(buffer)
  let offset, length, blocking, invalidate
  if (typeof a === 'boolean') {
    offset = 0
    length = target.length
    blocking = a
    invalidate = b
  } else {
    // As the original: an offset or length of 0 (or none) means the default.
    offset = a || 0
    length = b || target.length - offset
    blocking = c
    invalidate = d
  }
  if (blocking !== undefined && typeof blocking !== 'boolean') {
    throw invalidArgType('isBlockingSync', 'of type boolean', blocking)
  }
  if (invalidate !== undefined && typeof invalidate !== 'boolean') {
    throw invalidArgType('doPageInvalidation', 'of type boolean', invalidate)
  }
  const [off, len] = range(target, offset, length)
  target.segment.sync({ offset: off, length: len, async: blocking !== true, invalidate: invalidate === true })
}

/** mincore(2): [unmappedPages, mappedPages] of the Buffer's pages. */
function incore (buffer) {
  const target = resolve(buffer)
  const { residentPages, totalPages } =
    target.segment.residency({ offset: target.base, length: target.length })
  return [totalPages - residentPages, residentPages]
}

const mmap = { map, advise, sync, incore }
const constants = {
  PROT_READ: C.PROT_READ,
  PROT_WRITE: C.PROT_WRITE,
  PROT_EXEC: C.PROT_EXEC,
  // The README's examples spell it PROT_EXECUTE.
  PROT_EXECUTE: C.PROT_EXEC,
  PROT_NONE: C.PROT_NONE,
  MAP_SHARED: C.MAP_SHARED,
  MAP_PRIVATE: C.MAP_PRIVATE,
  MAP_NONBLOCK: C.MAP_NONBLOCK,
  MAP_POPULATE: C.MAP_POPULATE,
  MADV_NORMAL: C.MADV_NORMAL,
  MADV_RANDOM: C.MADV_RANDOM,
  MADV_SEQUENTIAL: C.MADV_SEQUENTIAL,
  MADV_WILLNEED: C.MADV_WILLNEED,
  MADV_DONTNEED: C.MADV_DONTNEED,
  PAGESIZE
}
// Read-only and undeletable, as the original defines them.
for (const [key, value] of Object.entries(constants)) {
  Object.defineProperty(mmap, key, { value, enumerable: true, writable: false, configurable: false })
}
mmap.default = mmap

module.exports = mmap
