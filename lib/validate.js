'use strict'
// Argument checks of the JS layer. They run before any native call, so that a user sees the
// argument's name in the message; the binding checks again in C.

const { fileURLToPath } = require('url')
const { makeError, invalidArgType, invalidArgValue, outOfRange } = require('./errors')

const MAX_SAFE = Number.MAX_SAFE_INTEGER
// Longest POSIX name, not counting the leading '/'. macOS allows 31 bytes (PSHMNAMLEN).
const NAME_MAX = process.platform === 'darwin' ? 30 : 255

const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype)

// An options object. Refused besides non-objects: arrays, typed arrays and anything that
// inherits from one (a fake `{ __proto__: Int32Array.prototype }`, a Proxy of a typed array),
// whose inherited getters (length) throw a TypeError without a code when read as an option,
// and a revoked Proxy, which throws on every look.
function validateObject (value, name) {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || ArrayBuffer.isView(value) || arrayLike(value)) {
    throw invalidArgType(name, 'of type object', value)
  }
  return value
}

function arrayLike (value) {
  try {
    return Array.isArray(value) || TypedArrayPrototype.isPrototypeOf(value)
  } catch {
    return true // a revoked Proxy
  }
}

// An integer in [min, max]. BigInts are accepted as long as they fit in a safe Number.
function validateInteger (value, name, min = 0, max = MAX_SAFE) {
  if (typeof value === 'bigint') {
    if (value < BigInt(min) || value > BigInt(max)) {
      throw outOfRange(name, `>= ${min} && <= ${max}`, value)
    }
    return Number(value)
  }
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value)
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value)
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value)
  return value
}

function validateBoolean (value, name) {
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value)
  return value
}

// A file mode: an integer, or a string of octal digits as fs accepts ('600', '0o600').
function validateMode (value, name, fallback = 0o600) {
  if (value === undefined || value === null) return fallback
  if (typeof value === 'string') {
    const m = /^(?:0o)?([0-7]+)$/.exec(value)
    if (!m) throw invalidArgValue(name, value, 'must be a 32-bit unsigned integer or an octal string')
    value = parseInt(m[1], 8)
  }
  if (typeof value === 'number' && Number.isInteger(value) && value > 0o777 && value <= 777 &&
      /^[0-7]+$/.test(String(value))) {
    // 644 meant as 0o644: a decimal number whose digits are all octal.
    throw outOfRange(name, '>= 0 && <= 511 (0o777)', value,
      `${value} looks like an octal mode written in decimal: write 0o${value} or '${value}'`)
  }
  return validateInteger(value, name, 0, 0o777)
}

// A POSIX shared memory name: 'x' and '/x' are the same object; the result is '/x'.
function validateName (value, name = 'name') {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value)
  const base = value.startsWith('/') ? value.slice(1) : value
  if (base.length === 0) throw invalidArgValue(name, value, 'must not be empty')
  if (base.includes('/')) {
    throw invalidArgValue(name, value, "must not contain '/' after its first character")
  }
  if (base.includes('\0')) throw invalidArgValue(name, value, 'must not contain null bytes')
  if (base === '.' || base === '..') throw invalidArgValue(name, value, 'must not be . or ..')
  const bytes = Buffer.byteLength(base)
  if (bytes > NAME_MAX) {
    throw invalidArgValue(name, value, `is too long (${bytes} bytes; at most ${NAME_MAX})`)
  }
  return `/${base}`
}

function validatePath (value, name = 'path') {
  if (value instanceof URL) value = fileURLToPath(value)
  else if (Buffer.isBuffer(value)) value = value.toString()
  if (typeof value !== 'string') {
    throw invalidArgType(name, 'of type string or an instance of Buffer or URL', value)
  }
  if (value.length === 0) throw invalidArgValue(name, value, 'must not be empty')
  if (value.includes('\0')) throw invalidArgValue(name, value, 'must not contain null bytes')
  if (Buffer.byteLength(value) > 4096) throw invalidArgValue(name, value, 'is too long')
  return value
}

function validateFunction (value, name) {
  if (typeof value !== 'function') throw invalidArgType(name, 'of type function', value)
  return value
}

// The classes keep their state in # fields, and V8 answers a getter of theirs called on any
// other object (an options object whose prototype is a Segment, say, read as
// `options.readOnly`) with a TypeError that has no code. Each getter of Class.prototype is
// wrapped once, at load, to throw Node's ERR_INVALID_THIS there instead. Methods are not
// wrapped (a wrapper would tax every call on the hot paths): one called explicitly on another
// object (Segment.prototype.view.call({})) still gets V8's TypeError.
function guardGetters (Class, isInstance) {
  const proto = Class.prototype
  for (const key of Reflect.ownKeys(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, key)
    if (typeof d.get !== 'function') continue
    const get = d.get
    const name = get.name
    d.get = {
      [name] () {
        if (!isInstance(this)) throw makeError('ERR_INVALID_THIS', Class.name)
        return get.call(this)
      }
    }[name]
    Object.defineProperty(proto, key, d)
  }
}

module.exports = {
  guardGetters,
  MAX_SAFE,
  NAME_MAX,
  validateObject,
  validateInteger,
  validateBoolean,
  validateMode,
  validateName,
  validatePath,
  validateFunction
}
