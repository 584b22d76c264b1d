'use strict'
// shmem.wait / waitAsync / notify: Atomics.wait and Atomics.notify across processes. V8's own
// Atomics.wait keeps its waiters in a list inside one process; these sleep on the kernel's
// shared futex for the word's physical page, which every process mapping it shares.

const { types: { isInt32Array } } = require('util')
const binding = require('./binding')
const { locate, isPrivate } = require('./segment')
const { invalidArgType, invalidArgValue, outOfRange } = require('./errors')
const waiting = require('./waiting')

// Spin this long before sleeping: a peer that answers within a few microseconds is caught
// without a system call each way; longer would burn a CPU the peer may need (2 vCPUs here).
const SPIN_NS = 2000
const RESULTS = ['ok', 'not-equal', 'timed-out', 'ok']
const INT_MAX = 2147483647
const SLICE_MS = 100
const TIMED_OUT_CODE = 2

// Where each Int32Array an API here has seen lies: its segment, handle and first byte in the
// mapping. A cache, so that a wait or notify allocates nothing and does one WeakMap lookup.
const placed = new WeakMap()

function placeOf (array) {
  let where = placed.get(array)
  if (where === undefined) {
    // The built-in check, which reads the value's own slots: instanceof would run a
    // Proxy's traps, and a fake (an object inheriting from Int32Array.prototype) passes it.
    if (!isInt32Array(array)) {
      throw invalidArgType('int32Array', 'an instance of Int32Array', array)
    }
    where = locate(array, 0, 4)
    if (where === null) {
      throw invalidArgValue('int32Array', array,
        'must be a view of a shmem segment (segment.view(Int32Array, ...)): ' +
        'a wait across processes needs memory that other processes map')
    }
    if (isPrivate(where.segment)) {
      throw invalidArgValue('int32Array', array,
        'must be a view of a shared mapping: this segment is private (MAP_PRIVATE)')
    }
    placed.set(array, where)
  }
  if (where.segment.closed) where.segment.view(Int32Array) // throws ERR_SHMEM_CLOSED
  return where
}

// The byte in the mapping of int32Array[index].
function offsetOf (array, where, index) {
  if (typeof index !== 'number' || !Number.isInteger(index)) {
    throw invalidArgType('index', 'an integer', index)
  }
  if (index < 0 || index >= array.length) {
    throw outOfRange('index', `>= 0 && < ${array.length}`, index)
  }
  return where.offset + index * 4
}

function expectedOf (value) {
  if (typeof value !== 'number') throw invalidArgType('expected', 'of type number', value)
  return value | 0 // as Atomics.wait: ToInt32
}

// As Atomics.wait: undefined waits for ever, NaN too; a negative timeout only checks.
function timeoutOf (value) {
  if (value === undefined) return Infinity
  if (typeof value !== 'number') throw invalidArgType('timeoutMs', 'of type number', value)
  if (Number.isNaN(value)) return Infinity
  return Math.max(0, value)
}

/**
 * Sleeps while int32Array[index] === expected, until shmem.notify() on that word (from any
 * process or thread) or until timeoutMs. Blocks the calling thread. Returns 'ok',
 * 'not-equal' (the word did not hold expected) or 'timed-out'.
 */
function wait (int32Array, index, expected, timeoutMs) {
  const where = placeOf(int32Array)
  const offset = offsetOf(int32Array, where, index)
  const e = expectedOf(expected)
  const t = timeoutOf(timeoutMs)
  if (t <= SLICE_MS) return RESULTS[binding.futexWait(where.handle, offset, e, t, t === 0 ? 0 : SPIN_NS)]
  // Longer waits sleep in slices that come back to JS, so that worker.terminate() can end a
  // worker that waits here. A later slice that finds the word changed reports 'ok'.
  const deadline = waiting.deadlineOf(t)
  let r = binding.futexWait(where.handle, offset, e, SLICE_MS, SPIN_NS)
  if (r !== TIMED_OUT_CODE) return RESULTS[r]
  for (;;) {
    const left = waiting.remaining(deadline)
    if (left === 0) return 'timed-out'
    r = binding.futexWait(where.handle, offset, e, Math.min(left, SLICE_MS), 0)
    if (r !== TIMED_OUT_CODE) return 'ok'
  }
}

/**
 * The same wait on a thread of its own: the event loop runs meanwhile. Resolves with 'ok',
 * 'not-equal' or 'timed-out'; rejects with ERR_SHMEM_CLOSED when the segment is closed.
 */
function waitAsync (int32Array, index, expected, timeoutMs) {
  let where, offset, e, t
  try {
    where = placeOf(int32Array)
    offset = offsetOf(int32Array, where, index)
    e = expectedOf(expected)
    t = timeoutOf(timeoutMs)
  } catch (err) {
    return Promise.reject(err)
  }
  if (Atomics.load(int32Array, index) !== e) return Promise.resolve('not-equal')
  if (t === 0) return Promise.resolve('timed-out')
  const { segment, handle } = where
  return waiting.futexWaitAsync(handle, offset, e, t).then((r) => {
    if (r === waiting.CANCELLED) segment.view(Int32Array) // closed meanwhile: throws
    return RESULTS[r]
  })
}

/**
 * Wakes up to count sleepers on int32Array[index] (all by default) in any process, and
 * returns how many the kernel woke: the shmem.wait/waitAsync sleepers of every process. It
 * cannot count a waiter still spinning (it sees the new value and returns 'ok' on its own).
 */
function notify (int32Array, index, count = Infinity) {
  const where = placeOf(int32Array)
  const offset = offsetOf(int32Array, where, index)
  let n
  if (count === Infinity) n = INT_MAX
  else if (typeof count !== 'number' || Number.isNaN(count)) {
    throw invalidArgType('count', 'a number >= 0 or Infinity', count)
  } else {
    n = Math.min(INT_MAX, Math.max(0, Math.trunc(count)))
  }
  return binding.futexWake(where.handle, offset, n)
}

module.exports = { wait, waitAsync, notify }
