'use strict'
// What every waiting API shares: the timeout and signal options, AbortError, and the
// bookkeeping of an asynchronous wait (one waiter thread in the binding, cancelled on abort).

const binding = require('./binding')
const { invalidArgType, outOfRange } = require('./errors')
const { validateObject } = require('./validate')

// A blocking wait returns to JavaScript at least this often (ms): V8 ends a worker
// (worker.terminate(), or process.exit() in the main thread) only while it runs JavaScript, so
// one long native wait would keep it, and its terminate(), waiting for ever. The channels'
// waits slice in workers, the file locks' and the in-segment locks' always (the latter also
// look this often whether a lock's owner still lives).
const SLICE_MS = 100

// Results of the binding's waits.
const OK = 0
const NOT_EQUAL = 1
const TIMED_OUT = 2
const CANCELLED = 3

/** The error Node's own APIs reject with when an AbortSignal fires. */
class AbortError extends Error {
  constructor (message = 'The operation was aborted', options = undefined) {
    super(message, options)
    this.code = 'ABORT_ERR'
    this.name = 'AbortError'
  }
}

function abortError (signal) {
  return new AbortError(undefined, { cause: signal.reason })
}

// A timeout in milliseconds: undefined or Infinity waits for ever; 0 only tries.
function validateTimeout (value, name = 'options.timeout') {
  if (value === undefined || value === Infinity) return Infinity
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value)
  if (Number.isNaN(value) || value < 0) {
    throw outOfRange(name, '>= 0 or Infinity', value)
  }
  return value
}

function validateSignal (value, name = 'options.signal') {
  if (value === undefined) return undefined
  if (value === null || typeof value !== 'object' || !looksLikeSignal(value)) {
    throw invalidArgType(name, 'an instance of AbortSignal', value)
  }
  return value
}

// Duck-typed, as Node's own validateAbortSignal; reading a revoked Proxy (or a getter that
// throws) makes the value no signal rather than a TypeError without a code.
function looksLikeSignal (value) {
  try {
    return typeof value.aborted === 'boolean' && typeof value.addEventListener === 'function'
  } catch {
    return false
  }
}

// { timeout } for the sync calls.
function syncOptions (options) {
  options = validateObject(options, 'options')
  return validateTimeout(options.timeout)
}

// { timeout, signal } for the async calls.
function asyncOptions (options) {
  options = validateObject(options, 'options')
  return { timeout: validateTimeout(options.timeout), signal: validateSignal(options.signal) }
}

const now = () => performance.now()
const deadlineOf = (timeout) => timeout === Infinity ? Infinity : now() + timeout
const remaining = (deadline) => deadline === Infinity ? Infinity : Math.max(0, deadline - now())

/**
 * Sleeps asynchronously on the 32-bit word at byte `offset` of the segment with `handle`
 * while it holds `expected`, for at most `timeout` ms. Resolves with OK, NOT_EQUAL, TIMED_OUT
 * or CANCELLED (the segment closed); rejects with AbortError when signal fires.
 */
function futexWaitAsync (handle, offset, expected, timeout, signal) {
  if (signal !== undefined && signal.aborted) return Promise.reject(abortError(signal))
  return new Promise((resolve, reject) => {
    let onAbort
    const id = binding.futexWaitAsync(handle, offset, expected, timeout, (result) => {
      if (signal !== undefined) signal.removeEventListener('abort', onAbort)
      if (typeof result !== 'number') reject(result)
      else resolve(result)
    })
    if (id === -1) {
      resolve(NOT_EQUAL)
      return
    }
    if (signal !== undefined) {
      onAbort = () => {
        // Nothing was taken while the thread slept: reject now, the thread winds down.
        binding.cancelWait(id)
        reject(abortError(signal))
      }
      signal.addEventListener('abort', onAbort, { once: true })
    }
  })
}

module.exports = {
  SLICE_MS,
  OK,
  NOT_EQUAL,
  TIMED_OUT,
  CANCELLED,
  AbortError,
  abortError,
  validateTimeout,
  validateSignal,
  syncOptions,
  asyncOptions,
  deadlineOf,
  remaining,
  futexWaitAsync
}
