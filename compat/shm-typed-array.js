'use strict'
/**
 * A drop-in replacement for the shm-typed-array package, built on shmem:
 *
 *   const shm = require('shmem/compat/shm-typed-array')   // was: require('shm-typed-array')
 *
 * Numeric keys are System V segments, string keys POSIX objects. POSIX objects keep the
 * original package's layout (the data size as an 8-byte native size_t, then the data), so a
 * process still on shm-typed-array and one on this module share objects both ways.
 * What differs from the original, and why, is in docs/migrating.md.
 */

const { constants: { MAX_LENGTH } } = require('buffer')
const shmem = require('..')
const { makeError, invalidArgType, invalidArgValue, outOfRange } = require('../lib/errors')
const { validateName } = require('../lib/validate')

const HEADER = 8 // sizeof(size_t) on the 64-bit platforms this package supports
const KEY_MIN = 1
const KEY_MAX = 2 ** 32 - 2

const SHMBT_BUFFER = 0
const SHMBT_INT8 = 1
const SHMBT_UINT8 = 2
const SHMBT_UINT8CLAMPED = 3
const SHMBT_INT16 = 4
const SHMBT_UINT16 = 5
const SHMBT_INT32 = 6
const SHMBT_UINT32 = 7
const SHMBT_FLOAT32 = 8
const SHMBT_FLOAT64 = 9

/** typeKey -> the original's SHMBT_* number. */
const BufferType = {
  Buffer: SHMBT_BUFFER,
  Int8Array: SHMBT_INT8,
  Uint8Array: SHMBT_UINT8,
  Uint8ClampedArray: SHMBT_UINT8CLAMPED,
  Int16Array: SHMBT_INT16,
  Uint16Array: SHMBT_UINT16,
  Int32Array: SHMBT_INT32,
  Uint32Array: SHMBT_UINT32,
  Float32Array: SHMBT_FLOAT32,
  Float64Array: SHMBT_FLOAT64
}

const TYPES = {
  Buffer,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array
}

/** Max count of elements (not bytes) of one segment: buffer.constants.MAX_LENGTH. */
const LengthMax = MAX_LENGTH

// What this process made or attached, by key: System V keys (Numbers) and POSIX names
// ('/x'). Each record keeps every Segment its create()/get() calls opened, open or closed,
// so that detach() closes them all and cleanup can remove by id rather than by key.
const records = new Map()
let mappedBytes = 0
let createdBytes = 0

function typeOf (typeKey) {
  if (typeKey === undefined || typeKey === null) return 'Buffer'
  if (typeof typeKey !== 'string') throw invalidArgType('typeKey', 'of type string', typeKey)
  if (!Object.prototype.hasOwnProperty.call(TYPES, typeKey)) {
    throw invalidArgValue('typeKey', typeKey, `must be one of ${Object.keys(TYPES).join(', ')}`)
  }
  return typeKey
}

function validateCount (count) {
  if (typeof count !== 'number') throw invalidArgType('count', 'of type number', count)
  if (!Number.isSafeInteger(count) || count < 1 || count > LengthMax) {
    throw outOfRange('count', `an integer >= 1 && <= ${LengthMax}`, count)
  }
  return count
}

function validateKey (key) {
  if (typeof key !== 'number') {
    throw invalidArgType('key', 'of type number (System V) or string (POSIX)', key)
  }
  if (!Number.isSafeInteger(key) || key < KEY_MIN || key > KEY_MAX) {
    throw outOfRange('key', `an integer >= ${KEY_MIN} && <= ${KEY_MAX}`, key)
  }
  return key
}

// The original reads perm as octal digits ('660' or 660); anything unreadable is 660. Only
// primitives are read: converting an object to a string runs its code, and throws a
// TypeError without a code for a Proxy, a typed array that is fake or detached, or an object
// without toString.
function permOf (perm) {
  if (perm === undefined || perm === null) return 0o660
  if (typeof perm === 'object' || typeof perm === 'function' || typeof perm === 'symbol') {
    throw invalidArgType('perm', 'of type string or number', perm)
  }
  const value = Number.parseInt(String(perm), 8)
  if (Number.isNaN(value)) return 0o660
  if (value < 0 || value > 0o777) throw outOfRange('perm', "octal permission bits <= '777'", perm)
  return value
}

// key_t is a signed 32-bit int: the original passes its unsigned key through as the same bits.
const toKeyT = (key) => key | 0
const fromKeyT = (key) => key >>> 0

function record (key, kind) {
  let r = records.get(key)
  if (r === undefined) {
    r = { kind, created: false, segments: [], bytes: 0 }
    records.set(key, r)
  }
  return r
}

function attached (r) {
  return r.segments.filter((s) => !s.closed)
}

function tooLarge (count, typeKey) {
  return outOfRange('count',
    `at most ${Math.floor(MAX_LENGTH / TYPES[typeKey].BYTES_PER_ELEMENT)} for ${typeKey} ` +
    '(one ArrayBuffer holds at most buffer.constants.MAX_LENGTH bytes)', count)
}

function viewOf (segment, typeKey, byteOffset, count) {
  const Type = TYPES[typeKey]
  return segment.view(Type, byteOffset, count)
}

// --- System V ---

function createSysv (count, typeKey, key, perm) {
  const bytes = count * TYPES[typeKey].BYTES_PER_ELEMENT
  if (bytes > MAX_LENGTH) throw tooLarge(count, typeKey)
  let segment
  try {
    segment = shmem.sysv.create(key === null ? null : toKeyT(key), bytes, { mode: perm })
  } catch (err) {
    if (err.code === 'EEXIST') return null
    throw err
  }
  const realKey = key === null ? fromKeyT(segment.key) : key
  const r = record(realKey, 'sysv')
  r.created = true
  r.segments.push(segment)
  mappedBytes += bytes
  createdBytes += bytes
  r.bytes = bytes
  const result = viewOf(segment, typeKey, 0, count)
  result.key = realKey
  return result
}

function getSysv (key, typeKey) {
  let segment
  try {
    segment = shmem.sysv.open(toKeyT(key))
  } catch (err) {
    if (err.code === 'ENOENT' || err.code === 'EIDRM') return null
    throw err
  }
  const count = Math.floor(segment.size / TYPES[typeKey].BYTES_PER_ELEMENT)
  if (count * TYPES[typeKey].BYTES_PER_ELEMENT > MAX_LENGTH) {
    segment.close()
    throw tooLarge(count, typeKey)
  }
  const r = record(key, 'sysv')
  r.segments.push(segment)
  mappedBytes += segment.size
  const result = viewOf(segment, typeKey, 0, count)
  result.key = key
  return result
}

// Closes this process's attachments of a System V key. Returns how many attachments other
// processes still have, or -1 when the segment is gone (or we had none and cannot tell).
function closeSysv (r) {
  const open = attached(r)
  let others = -1
  if (open.length > 0) {
    try {
      others = open[0].stat().nattch - open.length
    } catch {
      others = -1 // removed and gone already
    }
  }
  for (const s of open) {
    mappedBytes -= s.size
    s.close()
  }
  return others
}

// IPC_RMID by the id we attached (not by key: the key may name a newer segment by now).
function removeSysv (r) {
  let removed = false
  for (const s of r.segments) {
    try {
      if (s.remove()) removed = true
    } catch {}
  }
  if (r.created) createdBytes -= r.bytes
  r.created = false
  return removed
}

function detachSysv (key, forceDestroy) {
  validateKey(key)
  const r = records.get(key)
  if (r === undefined || attached(r).length === 0) {
    // Not attached here: the original removes it only when asked to force. One this process
    // attached before is removed by its id, so a newer segment under the key is left alone.
    if (!forceDestroy) return -1
    if (r === undefined) return shmem.sysv.remove(toKeyT(key)) ? 0 : -1
    records.delete(key)
    return removeSysv(r) ? 0 : -1
  }
  const others = closeSysv(r)
  if (others === -1) {
    records.delete(key)
    return -1
  }
  if (forceDestroy || others === 0) {
    removeSysv(r)
    records.delete(key)
    return 0
  }
  if (!r.created) records.delete(key)
  return others
}

// --- POSIX ---

function createPosix (name, count, typeKey, perm) {
  const bytes = count * TYPES[typeKey].BYTES_PER_ELEMENT
  if (bytes > MAX_LENGTH) throw tooLarge(count, typeKey)
  let segment
  try {
    segment = shmem.create(name, HEADER + bytes, { mode: perm })
  } catch (err) {
    if (err.code === 'EEXIST') return null
    throw err
  }
  headerView(segment)[0] = BigInt(bytes)
  return finishPosix(segment, typeKey, count, true)
}

// The first 8 bytes as one BigUint64 (native byte order, like the original's size_t).
function headerView (segment) {
  const u8 = segment.view(Uint8Array, 0, HEADER)
  return new BigUint64Array(u8.buffer, u8.byteOffset, 1)
}

function finishPosix (segment, typeKey, count, created) {
  const r = record(segment.name, 'posix')
  r.segments.push(segment)
  mappedBytes += segment.size
  if (created) {
    r.created = true
    r.bytes = segment.size
    createdBytes += segment.size
  }
  return viewOf(segment, typeKey, HEADER, count)
}

function getPosix (name, typeKey) {
  let segment
  try {
    segment = shmem.open(name)
  } catch (err) {
    if (err.code === 'ENOENT') return null
    if (err.code === 'ERR_OUT_OF_RANGE') { // an empty object: no header at all
      throw badState(name, 'it is empty, with no size header')
    }
    throw err
  }
  try {
    if (segment.size < HEADER) {
      throw badState(name, `it is ${segment.size} bytes, too small for its size header`)
    }
    // Another process wrote this header: check it before trusting it (the original maps
    // whatever it says, and faults past the object's end).
    const declared = headerView(segment)[0]
    if (declared > BigInt(segment.size - HEADER)) {
      throw badState(name, `its header says it holds ${declared} bytes, but only ` +
        `${segment.size - HEADER} follow it`)
    }
    const elem = TYPES[typeKey].BYTES_PER_ELEMENT
    const count = Math.floor(Number(declared) / elem)
    if (count * elem > MAX_LENGTH) throw tooLarge(count, typeKey)
    return finishPosix(segment, typeKey, count, false)
  } catch (err) {
    segment.close()
    throw err
  }
}

function badState (name, what) {
  return makeError('ERR_SHMEM_BAD_STATE', `The POSIX object '${name}'`,
    `${what}; it was not made by shm-typed-array or is corrupt`)
}

function detachPosix (name, forceDestroy) {
  const r = records.get(name)
  if (r === undefined || attached(r).length === 0) {
    if (!forceDestroy) return -1
    if (r) records.delete(name)
    return shmem.unlink(name) ? 0 : -1
  }
  for (const s of attached(r)) {
    mappedBytes -= s.size
    s.close()
  }
  if (!forceDestroy) {
    if (!r.created) records.delete(name)
    return 1
  }
  if (r.created) createdBytes -= r.bytes
  records.delete(name)
  return shmem.unlink(name) ? 0 : -1
}

// shmem's own check (names with '/' inside, empty, too long), naming the argument 'key'.
const posixName = (key) => validateName(key, 'key')

// --- the API ---

/**
 * Creates a System V segment (key: a number, or null/undefined for a generated key) or a
 * POSIX object (key: a string such as '/name') of `count` elements of `typeKey`.
 * Returns a Buffer or TypedArray over it (with `.key` for System V), or null when the key
 * or name exists already. perm: octal permission bits, default '660'.
 */
function create (count, typeKey, key, perm) {
  validateCount(count)
  typeKey = typeOf(typeKey)
  const mode = permOf(perm)
  if (typeof key === 'string') return createPosix(posixName(key), count, typeKey, mode)
  if (key === undefined || key === null) return createSysv(count, typeKey, null, mode)
  return createSysv(count, typeKey, validateKey(key), mode)
}

/**
 * Attaches an existing System V segment (numeric key) or POSIX object (string name) as a
 * Buffer or TypedArray of typeKey. Returns null when it does not exist.
 */
function get (key, typeKey) {
  typeKey = typeOf(typeKey)
  if (typeof key === 'string') return getPosix(posixName(key), typeKey)
  return getSysv(validateKey(key), typeKey)
}

/**
 * Detaches this process from the segment or object. System V: it is removed when no process
 * is attached any more, or when forceDestroy is true; returns 0 when removed, else the number
 * of attachments left. POSIX: unlinked only with forceDestroy; returns 0 when unlinked, 1 when
 * only detached. -1 when it does not exist (or this process had not attached it).
 * Arrays of a detached segment are detached too: their length becomes 0.
 */
function detach (key, forceDestroy) {
  if (forceDestroy !== undefined && typeof forceDestroy !== 'boolean') {
    throw invalidArgType('forceDestroy', 'of type boolean', forceDestroy)
  }
  if (typeof key === 'string') return detachPosix(posixName(key), forceDestroy === true)
  return detachSysv(key, forceDestroy === true)
}

/** detach(key, true) === 0: true when the segment or object was removed. */
function destroy (key) {
  return detach(key, true) === 0
}

/**
 * Detaches everything this process created or attached. System V segments this process
 * created are removed (they go when the last process detaches); others are removed when no
 * process is attached any more. POSIX objects are unmapped, not unlinked.
 * Returns the number of System V segments removed. Runs on process exit.
 */
function detachAll () {
  let destroyed = 0
  for (const [key, r] of [...records]) {
    if (r.kind === 'sysv') {
      const others = closeSysv(r)
      if (r.created || others === 0) {
        if (removeSysv(r) || others === 0) destroyed++
      }
    } else {
      for (const s of attached(r)) {
        mappedBytes -= s.size
        s.close()
      }
    }
    records.delete(key)
  }
  return destroyed
}

/** Bytes of shared memory this process has mapped through this module now. */
function getTotalSize () {
  return mappedBytes
}

/** Bytes of the segments and objects this process created and has not destroyed. */
function getTotalCreatedSize () {
  return createdBytes
}

process.on('exit', () => {
  try {
    const count = detachAll()
    if (count > 0) console.info('shm segments destroyed:', count)
  } catch (err) {
    console.error(err)
  }
})

module.exports = {
  create,
  createPosix: (name, count, typeKey, perm) => {
    if (typeof name !== 'string') throw invalidArgType('name', 'of type string', name)
    return create(count, typeKey, name, perm)
  },
  get,
  getPosix: (name, typeKey) => {
    if (typeof name !== 'string') throw invalidArgType('name', 'of type string', name)
    return get(name, typeKey)
  },
  detach,
  detachPosix: (name, forceDestroy) => {
    if (typeof name !== 'string') throw invalidArgType('name', 'of type string', name)
    return detach(name, forceDestroy)
  },
  destroy,
  detachAll,
  getTotalSize,
  getTotalCreatedSize,
  BufferType,
  LengthMax,
  SHMBT_BUFFER,
  SHMBT_INT8,
  SHMBT_UINT8,
  SHMBT_UINT8CLAMPED,
  SHMBT_INT16,
  SHMBT_UINT16,
  SHMBT_INT32,
  SHMBT_UINT32,
  SHMBT_FLOAT32,
  SHMBT_FLOAT64
}
