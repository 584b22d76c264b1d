'use strict'
/**
 * The API of the mmap-io package (and its forks @luminati-io/mmap-io and @riaskov/mmap-io),
 * built on shmem, for both faces: compat/mmap-io.js (1.4: map() returns a Buffer) and
 * compat/mmap-io@1.6.js (1.6: map() returns a SharedArrayBuffer). Not an entry point itself.
 */

const { constants: { MAX_LENGTH } } = require('buffer')
const { types: { isAnyArrayBuffer } } = require('util')
const shmem = require('..')
const { mapMemory, mapped } = require('../lib/map')
const { makeError, invalidArgType, invalidArgValue, outOfRange } = require('../lib/errors')
const { validateInteger, MAX_SAFE } = require('../lib/validate')

const C = shmem.constants
const PAGESIZE = shmem.pageSize

const KNOWN_FLAGS = C.MAP_SHARED | C.MAP_PRIVATE | C.MAP_POPULATE | C.MAP_NONBLOCK
const PROT_ALL = C.PROT_READ | C.PROT_WRITE | C.PROT_EXEC

// A count or offset: the original's "must not be negative" for a negative number.
function validateCount (value, name, min, max) {
  if (typeof value === 'number' && value < 0) {
    throw outOfRange(name, `>= ${min} && <= ${max}`, value, `The ${name} must not be negative`)
  }
  return validateInteger(value, name, min, max)
}

/**
 * The module object: map() returns a SharedArrayBuffer when shared (1.6), else a Buffer (1.4).
 */
function build (shared) {
  /**
   * mmap(2) of fd: map(size, protection, privacy, fd[, offset = 0[, advise = 0]]).
   * protection: PROT_READ, PROT_WRITE (PROT_EXEC is accepted; the memory is mapped readable).
   * privacy: MAP_SHARED or MAP_PRIVATE, optionally | MAP_POPULATE | MAP_NONBLOCK. offset: a
   * multiple of PAGESIZE (else EINVAL, as mmap(2) says). Past the end of the file the pages
   * read as zeros and take writes that reach no file; nothing faults (docs/api.md, map()).
   */
  function map (size, protection, privacy, fd, offset, advise) {
    size = validateCount(size, 'size', 1, MAX_LENGTH)
    protection = validateInteger(protection, 'protection', 0, 0x7fffffff)
    privacy = validateInteger(privacy, 'privacy', 0, 0x7fffffff)
    fd = validateInteger(fd, 'fd', 0, 0x7fffffff)
    offset = offset === undefined || offset === null
      ? 0
      : validateCount(offset, 'offset', 0, MAX_SAFE)
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
    // Executable memory is mapped readable: a file on a noexec mount maps all the same.
    const prot = (protection & (C.PROT_READ | C.PROT_WRITE)) |
      ((protection & C.PROT_EXEC) !== 0 ? C.PROT_READ : 0)
    // As the original, advise 0 (MADV_NORMAL, the kernel's default) gives no madvise call.
    const memory = mapMemory(size, prot, privacy, fd, offset, advise === 0 ? -1 : advise, shared)
    return shared ? memory : Buffer.from(memory, 0, size)
  }

  const mmap = { map, advise, sync, incore, unmap }
  for (const [key, value] of Object.entries(constants)) {
    // Read-only and undeletable, as the original defines them.
    Object.defineProperty(mmap, key, { value, enumerable: true, writable: false, configurable: false })
  }
  mmap.default = mmap
  return mmap
}

const EXPECTED = 'an instance of Buffer, TypedArray, DataView, ArrayBuffer or SharedArrayBuffer'

// The mapping behind what the caller holds: a view of one (a Buffer, a slice, any typed
// array or DataView) or the (Shared)ArrayBuffer itself; base and length are the view's.
function resolve (buffer) {
  if (ArrayBuffer.isView(buffer)) {
    return { memory: buffer.buffer, base: buffer.byteOffset, length: buffer.byteLength }
  }
  if (isAnyArrayBuffer(buffer)) return { memory: buffer, base: 0, length: buffer.byteLength }
  throw invalidArgType('buffer', `${EXPECTED} returned by map()`, buffer)
}

function notMapped (buffer) {
  return invalidArgValue('buffer', buffer.constructor.name,
    'must be returned by map() (or be a view of one) and still be mapped')
}

function range (target, offset, length) {
  offset = validateInteger(offset, 'offset', 0, target.length)
  length = validateInteger(length, 'length', 0, target.length - offset)
  return [target.base + offset, length]
}

/**
 * unmap(buffer) -> true when this call let go of the mapping, false when it was gone already
 * (or map() never made it). A Buffer's mapping is detached, with every view of it (length 0),
 * as segment.close() does; a SharedArrayBuffer cannot be detached: its pages become zeros
 * that no file backs, freed when it is collected. Nothing faults either way.
 */
function unmap (buffer) {
  return mapped.unmap(resolve(buffer).memory)
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
  if (!mapped.advise(target.memory, advice, off, len)) throw notMapped(buffer)
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
    // As the original: an offset or length of 0 (or none) means the default. Anything but a
    // number is refused before any arithmetic on it.
    if (a !== undefined && typeof a !== 'number') throw invalidArgType('offset', 'of type number', a)
    if (b !== undefined && typeof b !== 'number') throw invalidArgType('length', 'of type number', b)
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
  const flags = (blocking !== true ? 1 : 0) | (invalidate === true ? 2 : 0)
  if (!mapped.sync(target.memory, flags, off, len)) throw notMapped(buffer)
}

/** mincore(2): [unmappedPages, mappedPages] of the Buffer's pages. */
function incore (buffer) {
  const target = resolve(buffer)
  const pages = mapped.residency(target.memory, target.base, target.length)
  if (pages === false) throw notMapped(buffer)
  return [pages[1] - pages[0], pages[0]]
}

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
  PAGESIZE,
  // 1.6: the alignment map()'s offset needs (the page size here; 64 KiB on Windows there).
  ALLOCATIONGRANULARITY: PAGESIZE
}

module.exports = { build }
