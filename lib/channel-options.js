'use strict'
// A Channel's arguments: the options a channel is made with (checked against the C core's
// limits, which the binding hands over in channelLayout), the timeout and signal of a wait,
// and the extent of a message's bytes.

const { types } = require('util')
const binding = require('./binding')
const { isDetached, isUnusable, bufferOf } = require('./spsc')
const { invalidArgType, invalidArgValue, outOfRange } = require('./errors')
const { validateObject, validateInteger } = require('./validate')
const waiting = require('./waiting')

const layout = binding.channelLayout
const KINDS = new Map(Object.entries(layout.kinds)) // 'spsc' -> 1, ...
const KIND_NAMES = [] // 1 -> 'spsc', ...
for (const [name, kind] of KINDS) KIND_NAMES[kind] = name

// { capacity, maxMessageSize, kind } checked, with the defaults the C core applies.
function validateChannelOptions (options, name = 'options') {
  options = validateObject(options, name)
  if (options.capacity === undefined) {
    throw invalidArgType(`${name}.capacity`, 'of type number', options.capacity)
  }
  const capacity = validateInteger(options.capacity, `${name}.capacity`, 1, layout.maxCapacity)
  const maxMessageSize = options.maxMessageSize === undefined
    ? 0
    : validateInteger(options.maxMessageSize, `${name}.maxMessageSize`, 1, layout.maxMessageSize)
  const kind = KINDS.get(options.kind)
  if (typeof options.kind !== 'string' || kind === undefined) {
    if (typeof options.kind !== 'string') {
      throw invalidArgType(`${name}.kind`, "one of 'spsc', 'mpsc' or 'mpmc'", options.kind)
    }
    throw invalidArgValue(`${name}.kind`, options.kind, "must be 'spsc', 'mpsc' or 'mpmc'")
  }
  // The ring the C core makes for this capacity (rounded up to a power of two): the bytes it
  // needs, less its header. A record may take half of it (see docs/channel-format.md).
  const rounded = binding.channelByteLength(capacity, 0, kind) - layout.headerSize
  const limit = rounded / 2 - layout.recordHeader
  if (maxMessageSize > limit) {
    throw outOfRange(`${name}.maxMessageSize`,
      `<= ${limit} (half the capacity, ${rounded} bytes after rounding up to a power of two, ` +
      `less ${layout.recordHeader})`, maxMessageSize)
  }
  return { capacity, maxMessageSize, kind }
}

// The timeout (ms) of a wait, -1 for none (what the binding takes); the signal or undefined.
function validateTimeout (options, name) {
  const timeout = waiting.validateTimeout(options.timeout, `${name}.timeout`)
  return timeout === Infinity ? -1 : timeout
}

function validateSignal (options, name) {
  return waiting.validateSignal(options.signal, `${name}.signal`)
}

function isBytes (data) {
  return ArrayBuffer.isView(data) || data instanceof ArrayBuffer
}

function invalidData (data) {
  return invalidArgType('data', 'of type string or an instance of Buffer, TypedArray, ' +
    'DataView or ArrayBuffer', data)
}

// The extent of a message's bytes, read through the built-in getters (nothing the object
// defines can change it). A detached view or ArrayBuffer is refused with a code on every path:
// the JavaScript path threw an uncoded TypeError and the native one sent an empty message.
const builtin = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get
const typedByteLength = builtin(Object.getPrototypeOf(Uint8Array.prototype), 'byteLength')
const viewByteLength = builtin(DataView.prototype, 'byteLength')
const viewBuffer = builtin(DataView.prototype, 'buffer')
const arrayBufferByteLength = builtin(ArrayBuffer.prototype, 'byteLength')

function detachedError (data) {
  return invalidArgValue('data', data, 'must not be detached')
}

function outOfBoundsError (data) {
  return invalidArgValue('data', data, 'is out of the bounds of its resized ArrayBuffer')
}

function bytesOf (data) {
  let n, buffer
  if (types.isTypedArray(data)) {
    n = typedByteLength.call(data)
    buffer = bufferOf.call(data)
    if (n === 0 && isUnusable(data)) {
      throw isDetached(buffer) ? detachedError(data) : outOfBoundsError(data)
    }
  } else if (types.isDataView(data)) {
    buffer = viewBuffer.call(data)
    try {
      n = viewByteLength.call(data)
    } catch {
      throw isDetached(buffer) ? detachedError(data) : outOfBoundsError(data)
    }
  } else {
    n = arrayBufferByteLength.call(data)
    buffer = data
  }
  if (n === 0 && isDetached(buffer)) throw detachedError(data)
  return n
}

/** The bytes a message takes in the ring: a string's UTF-8 length, or bytesOf(data). */
function byteLengthOf (data) {
  return typeof data === 'string' ? Buffer.byteLength(data) : bytesOf(data)
}

module.exports = {
  KIND_NAMES,
  validateChannelOptions,
  validateTimeout,
  validateSignal,
  isBytes,
  invalidData,
  bytesOf,
  byteLengthOf
}
