'use strict'
// The factories: POSIX objects, memfds, fds, files and System V segments.

const fs = require('fs')
const binding = require('./binding')
const lifecycle = require('./lifecycle')
const { makeSegment } = require('./segment')
const { makeError, invalidArgValue, invalidArgType } = require('./errors')
const {
  MAX_SAFE, validateObject, validateInteger, validateBoolean, validateMode, validateName,
  validatePath
} = require('./validate')

const F = binding.flags

// EACCES from a read-write open of something this process may read: say how to open it.
// The error keeps its code, errno, syscall and path; only the message gains the hint.
// file: what to check for read access, or null where no hint applies.
function withReadOnlyHint (file, open) {
  try {
    return open()
  } catch (err) {
    if (err && err.code === 'EACCES' && file !== null && readable(file)) {
      err.message += ` (it is readable: open it with { readOnly: true })`
    }
    throw err
  }
}

function readable (file) {
  try {
    fs.accessSync(file, fs.constants.R_OK)
    return true
  } catch {
    return false
  }
}
const HUGE_PAGE_SIZE = binding.hugePageSize

// The options every constructor shares: readOnly, populate, hugePages, lockMemory.
function commonFlags (options, hugePagesAllowed, kindLabel) {
  let flags = 0
  if (validateBoolean(options.readOnly, 'options.readOnly')) flags |= F.READONLY
  if (validateBoolean(options.populate, 'options.populate')) flags |= F.POPULATE
  if (validateBoolean(options.hugePages, 'options.hugePages')) {
    if (!hugePagesAllowed) {
      throw invalidArgValue('options.hugePages', true,
        `does not apply to ${kindLabel}: hugetlb pages come from memfd({ hugePages: true }), ` +
        'sysv.create(key, size, { hugePages: true }) or map() with MAP_HUGETLB; ' +
        "segment.advise('hugepage') asks for transparent huge pages instead")
    }
    flags |= F.HUGETLB
  }
  const lock = options.lockMemory
  if (lock === true) flags |= F.LOCK
  else if (lock === 'onfault') flags |= F.LOCK_ONFAULT
  else if (lock !== undefined && lock !== false) {
    throw invalidArgValue('options.lockMemory', lock, "must be true, false or 'onfault'")
  }
  return flags
}

// options.autoUnlink: this process owns what it just created (see lib/lifecycle.js). If
// taking ownership fails, the new object is removed again, as any other failed step of a
// create is undone.
function owned (segment, autoUnlink) {
  if (!autoUnlink) return segment
  try {
    return lifecycle.own(segment)
  } catch (err) {
    try {
      if (segment.kind === 'sysv') segment.remove()
      else segment.unlink()
    } catch {}
    segment.close()
    throw err
  }
}

function validateSize (size, name = 'size') {
  return validateInteger(size, name, 1, MAX_SAFE)
}

// hugetlb sizes must be whole huge pages; say so before the kernel answers EINVAL.
function checkHugeSize (flags, size) {
  if (!(flags & F.HUGETLB)) return
  if (HUGE_PAGE_SIZE === 0) throw makeError('ERR_SHMEM_NO_HUGEPAGES')
  if (size % HUGE_PAGE_SIZE !== 0) {
    throw invalidArgValue('size', size,
      `must be a multiple of the huge page size (${HUGE_PAGE_SIZE} bytes) with hugePages`,
      RangeError)
  }
}

function optionalSize (options) {
  return options.size === undefined ? 0 : validateSize(options.size, 'options.size')
}

/**
 * Creates a POSIX shared memory object (shm_open with O_CREAT | O_EXCL) and maps it.
 * EEXIST when the name exists. options.autoUnlink: the name is removed when this process
 * closes the segment or ends (see lib/lifecycle.js).
 */
function create (name, size, options) {
  name = validateName(name)
  size = validateSize(size)
  options = validateObject(options, 'options')
  const flags = commonFlags(options, false, 'POSIX objects (tmpfs)')
  const mode = validateMode(options.mode, 'options.mode')
  const autoUnlink = validateBoolean(options.autoUnlink, 'options.autoUnlink')
  return owned(makeSegment(binding.posixCreate(name, size, flags, mode), name), autoUnlink)
}

/** Opens an existing POSIX object; its size comes from fstat unless options.size is given. */
function open (name, options) {
  name = validateName(name)
  options = validateObject(options, 'options')
  const flags = commonFlags(options, false, 'POSIX objects (tmpfs)')
  return makeSegment(withReadOnlyHint(flags & F.READONLY ? null : `/dev/shm${name}`,
    () => binding.posixOpen(name, optionalSize(options), flags)), name)
}

/**
 * Creates the object, or opens it when it exists; segment.created says which.
 * options.autoUnlink applies only when this call created the object.
 */
function openOrCreate (name, size, options) {
  name = validateName(name)
  size = validateSize(size)
  options = validateObject(options, 'options')
  const flags = commonFlags(options, false, 'POSIX objects (tmpfs)')
  const mode = validateMode(options.mode, 'options.mode')
  const autoUnlink = validateBoolean(options.autoUnlink, 'options.autoUnlink')
  const segment = makeSegment(withReadOnlyHint(flags & F.READONLY ? null : `/dev/shm${name}`,
    () => binding.posixOpenOrCreate(name, size, flags, mode)), name)
  // Only the call that created the object owns it: an opener never removes a name.
  return owned(segment, autoUnlink && segment.created)
}

/** shm_unlink(3). True, or false when there was nothing to unlink. */
function unlink (name) {
  return binding.posixUnlink(validateName(name))
}

/** An anonymous memfd (Linux); share it by handing segment.fd to another process. */
function memfd (size, options) {
  size = validateSize(size)
  options = validateObject(options, 'options')
  const flags = commonFlags(options, true) |
    (validateBoolean(options.seal, 'options.seal') ? F.SEAL : 0)
  let name = null
  if (options.name !== undefined) {
    name = options.name
    if (typeof name !== 'string') throw invalidArgType('options.name', 'of type string', name)
    if (name.includes('\0') || name.includes('/') || Buffer.byteLength(name) > 249) {
      throw invalidArgValue('options.name', name,
        'must be at most 249 bytes without null bytes or slashes')
    }
  }
  checkHugeSize(flags, size)
  return makeSegment(binding.memfdCreate(size, flags, name))
}

/**
 * Maps an fd this process inherited or received: a memfd, a POSIX object or a file. The
 * segment holds a duplicate, so the caller may close fd.
 */
function fromFd (fd, options) {
  fd = validateInteger(fd, 'fd', 0, 2147483647)
  options = validateObject(options, 'options')
  const flags = commonFlags(options, false, 'fromFd() (the fd decides its page size)') |
    (validateBoolean(options.private, 'options.private') ? F.PRIVATE : 0)
  const offset = options.offset === undefined
    ? 0
    : validateInteger(options.offset, 'options.offset', 0, MAX_SAFE)
  return makeSegment(binding.fdMap(fd, optionalSize(options), offset, flags))
}

/**
 * Maps a file. options: size (default: the file from offset on), offset (any byte), create
 * (create the file, or extend it, to offset + size), mode, readOnly, private (MAP_PRIVATE).
 * A symlink as the path's last component is refused (ELOOP); create adopts an existing
 * file only when it is a regular file of this process's effective user (else EPERM).
 */
function mapFile (path, options) {
  path = validatePath(path)
  options = validateObject(options, 'options')
  let flags = commonFlags(options, false, 'files (hugetlbfs files are huge already)')
  if (validateBoolean(options.private, 'options.private')) flags |= F.PRIVATE
  const create = validateBoolean(options.create, 'options.create')
  if (create) flags |= F.CREATE
  const size = optionalSize(options)
  if (create && size === 0) {
    throw invalidArgValue('options.size', options.size, 'is required with options.create')
  }
  const offset = options.offset === undefined
    ? 0
    : validateInteger(options.offset, 'options.offset', 0, MAX_SAFE)
  const mode = validateMode(options.mode, 'options.mode', 0o600)
  return makeSegment(withReadOnlyHint(flags & (F.READONLY | F.CREATE) ? null : path,
    () => binding.fileMap(path, size, offset, flags, mode)), path)
}

function validateKey (key, name = 'key') {
  key = validateInteger(key, name, -2147483648, 2147483647)
  if (key === 0) {
    throw invalidArgValue(name, key,
      'must not be 0 (IPC_PRIVATE): pass null to sysv.create() for a fresh key')
  }
  return key
}

const sysv = {
  /**
   * shmget(IPC_CREAT | IPC_EXCL) and shmat. key null: a fresh random key (segment.key).
   * options.autoUnlink: IPC_RMID when this process closes the segment or ends.
   */
  create (key, size, options) {
    if (key !== null && key !== undefined) key = validateKey(key)
    else key = null
    size = validateSize(size)
    options = validateObject(options, 'options')
    const flags = commonFlags(options, true)
    const mode = validateMode(options.mode, 'options.mode')
    const autoUnlink = validateBoolean(options.autoUnlink, 'options.autoUnlink')
    checkHugeSize(flags, size)
    return owned(makeSegment(binding.sysvCreate(key, size, flags, mode), null), autoUnlink)
  },

  /** Attaches the segment with this key; options.size maps only its first bytes. */
  open (key, options) {
    key = validateKey(key)
    options = validateObject(options, 'options')
    const flags = commonFlags(options, false, 'sysv.open() (the segment decides its pages)')
    return makeSegment(binding.sysvOpen(key, optionalSize(options), flags), null)
  },

  /** IPC_RMID by key. True, or false when no segment has that key. */
  remove (key) {
    return binding.sysvRemove(validateKey(key))
  }
}

module.exports = { create, open, openOrCreate, unlink, memfd, fromFd, mapFile, sysv }
