'use strict'
// Semaphore: a count, and how many may sleep on it. It has no owner, so nothing is recovered
// when a process dies between wait() and post(): the count stays one lower (docs/locks.md).

const waiting = require('../waiting')
const { outOfRange } = require('../errors')
const { validateInteger, guardGetters } = require('../validate')
const { drive, driveAsync, sleepOn } = require('./drive')
const {
  isLock,
  acquired,
  INT32_MAX, SPIN, kConstruct, Lock, placeOf, badState, place, wordsOf,
  writeHeader, checkHeader, wake
} = require('./protocol')

const { deadlineOf, remaining } = waiting

const SEM_MAGIC = 0x534d4853 // 'SHMS'
// Word indexes after the header (protocol.js).
const W_COUNT = 3
const W_SEM_WAITERS = 4
const SEM_BYTES = 64

// Takes one unit if the count is above 0.
function take (i) {
  for (;;) {
    const c = Atomics.load(i, W_COUNT)
    if (c < 0) throw badState('Semaphore', 'negative count')
    if (c === 0) return false
    if (Atomics.compareExchange(i, W_COUNT, c, c - 1) === c) return true
  }
}

// The acquire loop, for drive() or driveAsync(): 'ok' | 'timed-out'.
function * taking (lock, deadline) {
  const i = lock.view
  for (;;) {
    if (take(i)) return 'ok'
    if (remaining(deadline) === 0) return 'timed-out'
    Atomics.add(i, W_SEM_WAITERS, 1)
    try {
      yield sleepOn(W_COUNT, 0, deadline)
    } finally {
      if (lock.view.length !== 0) Atomics.sub(i, W_SEM_WAITERS, 1)
    }
  }
}

/** A counting semaphore inside a segment. */
class Semaphore extends Lock {
  static get byteLength () { return SEM_BYTES }
  static get maxValue () { return INT32_MAX }

  /** Writes a fresh Semaphore holding initialCount at segment[offset]. */
  static init (segment, offset, initialCount = 0) {
    const count = validateInteger(initialCount, 'initialCount', 0, INT32_MAX)
    const placed = place(segment, offset, SEM_BYTES, 'Semaphore')
    writeHeader(placed.view, SEM_MAGIC, SEM_BYTES)
    Atomics.store(placed.view, W_COUNT, count)
    return new Semaphore(kConstruct, placed)
  }

  static attach (segment, offset) {
    const placed = place(segment, offset, SEM_BYTES, 'Semaphore')
    const i = placed.view
    checkHeader(i, SEM_MAGIC, SEM_BYTES, 'Semaphore')
    if (Atomics.load(i, W_COUNT) < 0) throw badState('Semaphore', 'negative count')
    return new Semaphore(kConstruct, placed)
  }

  /** Takes one unit, blocking while the count is 0: true, or false when the timeout passed. */
  wait (options) {
    const timeout = options === undefined ? Infinity : waiting.syncOptions(options)
    const i = wordsOf(placeOf(this)) // after the options: a getter among them may close the segment
    if (take(i)) return true
    const deadline = deadlineOf(timeout)
    for (let k = 0; k < SPIN; k++) if (take(i)) return true
    return acquired(drive(placeOf(this), taking(placeOf(this), deadline)))
  }

  /** Takes one unit if the count is above 0. */
  tryWait () {
    return take(wordsOf(placeOf(this)))
  }

  /** wait() while the event loop runs: true, or false (timed out); AbortError on options.signal. */
  async waitAsync (options) {
    // The options (and the signal's getter) first: a getter may close the segment, and the
    // words are checked (ERR_SHMEM_CLOSED) after it ran, never used detached.
    const { timeout, signal } = waiting.asyncOptions(options)
    if (signal !== undefined && signal.aborted) throw waiting.abortError(signal)
    if (take(wordsOf(placeOf(this)))) return true
    return acquired(await driveAsync(placeOf(this), taking(placeOf(this), deadlineOf(timeout)), signal))
  }

  /** Adds n units (default 1) and wakes up to n sleepers. */
  post (n = 1) {
    n = validateInteger(n, 'n', 1, INT32_MAX)
    const i = wordsOf(placeOf(this))
    for (;;) {
      const c = Atomics.load(i, W_COUNT)
      if (c < 0) throw badState('Semaphore', 'negative count')
      if (c > INT32_MAX - n) {
        throw outOfRange('n', `<= ${INT32_MAX - c} (the count may not pass ${INT32_MAX})`, n)
      }
      if (Atomics.compareExchange(i, W_COUNT, c, c + n) === c) break
    }
    if (Atomics.load(i, W_SEM_WAITERS) !== 0) wake(placeOf(this), W_COUNT, n)
  }

  /** The count now. */
  get value () { return Atomics.load(wordsOf(placeOf(this)), W_COUNT) }
}

guardGetters(Semaphore, isLock)

module.exports = { Semaphore, SEM_BYTES }
