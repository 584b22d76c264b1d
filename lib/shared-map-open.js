'use strict'
// Where a SharedMap comes from: create(), open() and openOrCreate() (a POSIX object of its
// own), init() and attach() (anywhere in a segment the caller keeps), and byteLength(). Each
// checks its arguments and finds the memory; construct(segment, offset, byteLength, init,
// options, ownsSegment) (lib/shared-map.js) makes the SharedMap over it.

const { performance } = require('perf_hooks')
const binding = require('./binding')
const { isSegment } = require('./segment')
const open = require('./open')
const { makeError, invalidArgType, invalidArgValue } = require('./errors')
const { validateObject, validateInteger, validateMode, MAX_SAFE } = require('./validate')

const ENCODINGS = ['buffer', 'utf8', 'json', 'v8']
const EVICTS = ['none', 'lru']
// open() waits this long at most for a map another process is creating right now.
const OPEN_WAIT_MS = 100
const napInt32 = new Int32Array(new SharedArrayBuffer(4)) // Atomics.wait() on it: a sleep

function oneOf (value, name, allowed, fallback) {
  if (value === undefined) return fallback
  const i = allowed.indexOf(value)
  if (i < 0) {
    throw invalidArgValue(name, value, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`)
  }
  return i
}

/** The options of a new map, checked, with their defaults, as the binding takes them. */
function validateMapOptions (options) {
  const o = validateObject(options, 'options')
  return {
    capacity: validateInteger(o.capacity ?? 1024, 'options.capacity', 1, 2 ** 26),
    maxKeyBytes: validateInteger(o.maxKeyBytes ?? 64, 'options.maxKeyBytes', 1, 65536),
    maxValueBytes: validateInteger(o.maxValueBytes ?? 1024, 'options.maxValueBytes', 0, 2 ** 30),
    evict: oneOf(o.evict, 'options.evict', EVICTS, 1),
    encoding: oneOf(o.encoding, 'options.encoding', ENCODINGS, 2),
    ttl: validateTtl(o.ttl, 'options.ttl')
  }
}

/** A ttl in milliseconds: undefined, 0 and Infinity mean none (0). */
function validateTtl (value, name) {
  if (value === undefined || value === Infinity) return 0
  return validateInteger(value, name, 0, MAX_SAFE)
}

function lengthOf (o) {
  return binding.mapByteLength(o.capacity, o.maxKeyBytes, o.maxValueBytes, o.evict, o.encoding,
    o.ttl)
}

/** SharedMap.byteLength(options). */
function byteLength (options) {
  return lengthOf(validateMapOptions(options))
}

/** SharedMap.create(name, options). */
function create (construct, name, options) {
  const o = validateMapOptions(options)
  const raw = validateObject(options, 'options')
  const length = lengthOf(o)
  const createOptions = { mode: validateMode(raw.mode, 'options.mode') }
  if (raw.autoUnlink !== undefined) createOptions.autoUnlink = raw.autoUnlink
  const segment = open.create(name, length, createOptions)
  try {
    return construct(segment, 0, length, true, o, true)
  } catch (err) {
    segment.close()
    try { segment.unlink() } catch {}
    throw err
  }
}

// True when the segment's first word (a map's magic, stored last by init) is still 0.
function noMagic (segment) {
  if (segment.size < 4) return true
  return segment.view(Buffer, 0, 4).readUInt32LE(0) === 0
}

/** SharedMap.open(name). */
function openMap (construct, name) {
  // Another process may be creating this map right now: its object exists but is still
  // empty, or its header has no magic yet (written last). Look again, once a millisecond,
  // for up to OPEN_WAIT_MS before reporting what was found.
  const until = performance.now() + OPEN_WAIT_MS
  for (;;) {
    let segment = null
    try {
      segment = open.open(name)
      const map = construct(segment, 0, segment.size, false, null, true)
      segment = null // the map's now
      return map
    } catch (err) {
      const empty = segment === null && err.code === 'ERR_OUT_OF_RANGE'
      const young = empty || (segment !== null && noMagic(segment))
      if (!young || performance.now() >= until) {
        if (!empty) throw err
        throw makeError('ERR_SHMEM_BAD_STATE', `The object '${name}'`,
          'it is empty: it holds no map (none was created in it, or its creator never sized it)')
      }
    } finally {
      if (segment !== null) segment.close()
    }
    Atomics.wait(napInt32, 0, 0, 1)
  }
}

/** SharedMap.openOrCreate(name, options): the options of a map that exists are its own. */
function openOrCreate (construct, name, options) {
  validateMapOptions(options)
  for (let tries = 0; ; tries++) {
    try {
      return create(construct, name, options)
    } catch (err) {
      if (err.code !== 'EEXIST') throw err
    }
    try {
      return openMap(construct, name)
    } catch (err) {
      // Its creator removed it between our two calls: create it again.
      if (err.code !== 'ENOENT' || tries >= 3) throw err
    }
  }
}

function checkSegment (segment, offset) {
  if (!isSegment(segment)) throw invalidArgType('segment', 'an instance of Segment', segment)
  return validateInteger(offset, 'offset', 0, segment.size)
}

/** SharedMap.init(segment, offset, byteLength, options). */
function init (construct, segment, offset, length, options) {
  offset = checkSegment(segment, offset)
  length = validateInteger(length, 'byteLength', 0, segment.size - offset)
  return construct(segment, offset, length, true, validateMapOptions(options), false)
}

/** SharedMap.attach(segment, offset). */
function attach (construct, segment, offset) {
  offset = checkSegment(segment, offset)
  return construct(segment, offset, segment.size - offset, false, null, false)
}

module.exports = {
  ENCODINGS,
  EVICTS,
  validateTtl,
  byteLength,
  create,
  open: openMap,
  openOrCreate,
  init,
  attach
}
