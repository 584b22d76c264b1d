'use strict'
// Where a SharedMap comes from: create(), open() and openOrCreate() (a POSIX object of its
// own), init() and attach() (anywhere in a segment the caller keeps), and byteLength(). Each
// checks its arguments and finds the memory; construct(segment, offset, byteLength, init,
// options, ownsSegment) (lib/shared-map.js) makes the SharedMap over it.

const binding = require('./binding')
const { invalidArgValue } = require('./errors')
const { validateObject, validateInteger, MAX_SAFE } = require('./validate')
const { createNamed, openNamed, placeIn } = require('./structure')

const ENCODINGS = ['buffer', 'utf8', 'json', 'v8']
const EVICTS = ['none', 'lru']

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
  return createNamed(construct, name, lengthOf(o), o, options)
}

/** SharedMap.open(name). */
function openMap (construct, name) {
  return openNamed(construct, name, 'map')
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

/** SharedMap.init(segment, offset, byteLength, options). */
function init (construct, segment, offset, length, options) {
  offset = placeIn(segment, offset)
  length = validateInteger(length, 'byteLength', 0, segment.size - offset)
  return construct(segment, offset, length, true, validateMapOptions(options), false)
}

/** SharedMap.attach(segment, offset). */
function attach (construct, segment, offset) {
  offset = placeIn(segment, offset)
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
