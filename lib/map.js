'use strict'
// map(): raw mmap(2) returning a Buffer, in the shape mmap-io users know.

const { constants: { MAX_LENGTH } } = require('buffer')
const binding = require('./binding')
const { ADVICE } = require('./segment')
const { invalidArgValue, invalidArgType } = require('./errors')
const { validateInteger, MAX_SAFE } = require('./validate')

const { MAP_ANONYMOUS, MAP_FIXED, PROT_READ, PROT_WRITE, PROT_EXEC } = binding.constants

/**
 * mmap(2) as a Buffer that is unmapped when it is garbage-collected. MAP_FIXED and PROT_NONE
 * are refused (the first replaces memory in use, the second faults on touch). A file shorter
 * than offset + size is mapped as far as it goes; the whole pages past its end are private
 * anonymous memory (zeros; writes reach no file), so no touch faults while the file keeps its
 * size. An fd whose size cannot be checked (a pipe, a socket, a character device other than
 * /dev/zero) is ENODEV.
 */
function map (size, protection, flags, fd, offset = 0, advice) {
  size = validateInteger(size, 'size', 1, MAX_LENGTH)
  protection = validateInteger(protection, 'protection', 0, 0x7fffffff)
  flags = validateInteger(flags, 'flags', 0, 0x7fffffff)
  if ((protection & (PROT_READ | PROT_WRITE | PROT_EXEC)) === 0 ||
      (protection & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0) {
    throw invalidArgValue('protection', protection,
      'must combine PROT_READ, PROT_WRITE and PROT_EXEC (a PROT_NONE Buffer would crash the ' +
      'process when touched)')
  }
  if (flags & MAP_FIXED) {
    throw invalidArgValue('flags', flags,
      'must not include MAP_FIXED: it would replace memory the process is using')
  }
  if (flags & MAP_ANONYMOUS) {
    fd = fd === undefined || fd === null ? -1 : validateInteger(fd, 'fd', -1, 0x7fffffff)
  } else {
    fd = validateInteger(fd, 'fd', 0, 0x7fffffff)
  }
  offset = offset === undefined ? 0 : validateInteger(offset, 'offset', 0, MAX_SAFE)
  if (offset % binding.pageSize !== 0) {
    throw invalidArgValue('offset', offset,
      `must be a multiple of the page size (${binding.pageSize})`, RangeError)
  }
  let adviceNumber = -1
  if (advice !== undefined && advice !== null) {
    if (typeof advice === 'string') {
      adviceNumber = ADVICE[advice.toLowerCase()]
      if (adviceNumber === undefined) throw invalidArgValue('advice', advice, 'is not known')
    } else if (typeof advice === 'number') {
      adviceNumber = validateInteger(advice, 'advice', 0, 0x7fffffff)
    } else {
      throw invalidArgType('advice', 'of type string or number', advice)
    }
  }
  // The mapping goes when V8 frees the ArrayBuffer's backing store, which a transfer() moves
  // along with the memory: it needs no mark against transfer (a mark that, from Node 24 on,
  // would also stop Node from detaching the buffer at a worker's exit).
  const ab = binding.map(size, protection, flags, fd, offset, adviceNumber)
  return Buffer.from(ab, 0, size)
}

// What compat/mmap-io builds on: the same mapping with the arguments already checked, as an
// ArrayBuffer or a SharedArrayBuffer, and unmap/advise/sync/residency of one. Each of the last
// four takes the (Shared)ArrayBuffer itself and answers false when map() did not make it.
/** Whether this Node can put a SharedArrayBuffer over a mapping. */
function sharedSupported () {
  return binding.mapSharedSupported()
}

/**
 * The raw mapping as an ArrayBuffer, or (shared) a SharedArrayBuffer; ERR_SHMEM_UNSUPPORTED
 * where this Node has no node_api_create_external_sharedarraybuffer.
 */
function mapMemory (size, protection, flags, fd, offset, adviceNumber, shared) {
  if (!shared) return binding.map(size, protection, flags, fd, offset, adviceNumber)
  // Where the runtime cannot, the binding throws ERR_SHMEM_UNSUPPORTED with the versions.
  return binding.mapShared(size, protection, flags, fd, offset, adviceNumber)
}

const mapped = {
  /** Detaches (an ArrayBuffer) or releases (a SharedArrayBuffer) and unmaps; false if not ours. */
  unmap: (ab) => binding.unmap(ab),
  advise: (ab, advice, offset, length) => binding.mapAdvise(ab, advice, offset, length),
  /** flags: 1 MS_ASYNC, 2 MS_INVALIDATE. */
  sync: (ab, flags, offset, length) => binding.mapSync(ab, flags, offset, length),
  /** [residentPages, totalPages], or false. */
  residency: (ab, offset, length) => binding.mapResidency(ab, offset, length)
}

module.exports = { map, mapMemory, mapped, sharedSupported }
