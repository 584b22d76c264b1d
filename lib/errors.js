'use strict'
// Errors with Node's codes and message shapes (ERR_INVALID_ARG_TYPE and friends), and the
// package's own codes (ERR_SHMEM_*). Each is a plain Error, TypeError or RangeError with a
// `code` property, as Node's own are.

const { inspect } = require('util')

function coded (Base, code, message) {
  const err = new Base(message)
  err.code = code
  // Drop this helper's frame so the stack starts where the user's call went wrong.
  Error.captureStackTrace(err, coded)
  return err
}

// How Node describes a received value in ERR_INVALID_ARG_TYPE.
function describe (value) {
  if (value == null) return `Received ${value}`
  if (typeof value === 'function') return `Received function ${value.name || '<anonymous>'}`
  if (typeof value === 'object') {
    if (value.constructor && value.constructor.name) {
      return `Received an instance of ${value.constructor.name}`
    }
    return `Received ${inspect(value, { depth: -1 })}`
  }
  let shown = inspect(value, { colors: false })
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`
  return `Received type ${typeof value} (${shown})`
}

function invalidArgType (name, expected, value) {
  const what = name.includes('.') ? 'property' : 'argument'
  return coded(TypeError, 'ERR_INVALID_ARG_TYPE',
    `The "${name}" ${what} must be ${expected}. ${describe(value)}`)
}

function invalidArgValue (name, value, reason = 'is invalid', Base = TypeError) {
  const what = name.includes('.') ? 'property' : 'argument'
  let shown = inspect(value)
  if (shown.length > 128) shown = `${shown.slice(0, 128)}...`
  return coded(Base, 'ERR_INVALID_ARG_VALUE', `The ${what} '${name}' ${reason}. Received ${shown}`)
}

function outOfRange (name, range, value) {
  const shown = typeof value === 'number' || typeof value === 'bigint'
    ? String(value)
    : inspect(value)
  return coded(RangeError, 'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${shown}`)
}

function closedError (what) {
  return coded(Error, 'ERR_SHMEM_CLOSED', `The segment${what ? ` ${what}` : ''} is closed`)
}

function unsupported (message) {
  return coded(Error, 'ERR_SHMEM_UNSUPPORTED', message)
}

module.exports = { coded, invalidArgType, invalidArgValue, outOfRange, closedError, unsupported }
