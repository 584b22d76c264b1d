'use strict'
// Mutex: one owner word and its owner's record; it survives the death of its holder (the
// next one to take it hears 'recovered').

const waiting = require('../waiting')
const { closedError } = require('../errors')
const { drive, driveAsync, run, runAsync } = require('./drive')
const { guardGetters } = require('../validate')
const {
  isLock,
  acquired,
  TID, START_LO, START_HI, SPIN, W_STATE, W_OWNER, W_START_LO, W_START_HI,
  W_RECOVERIES, TID_MASK, kConstruct, Lock, placeOf, notOwner, place, wordsOf, writeHeader,
  checkHeader, checkOwnerWord, checkTid, recordIsMine, takeFree, tryRecover, releaseOwner,
  ownWord, holding
} = require('./protocol')

const { deadlineOf } = waiting

const MUTEX_MAGIC = 0x4d4d4853 // 'SHMM'
const MUTEX_BYTES = 64

/** A mutual-exclusion lock inside a segment; survives the death of its holder. */
class Mutex extends Lock {
  static get byteLength () { return MUTEX_BYTES }

  /** Writes a fresh, unlocked Mutex at segment[offset] (once, by whoever creates it). */
  static init (segment, offset) {
    const placed = place(segment, offset, MUTEX_BYTES, 'Mutex')
    writeHeader(placed.view, MUTEX_MAGIC, MUTEX_BYTES)
    return new Mutex(kConstruct, placed)
  }

  /** Attaches to the Mutex at segment[offset]; ERR_SHMEM_BAD_STATE when none is there. */
  static attach (segment, offset) {
    const placed = place(segment, offset, MUTEX_BYTES, 'Mutex')
    const i = placed.view
    checkHeader(i, MUTEX_MAGIC, MUTEX_BYTES, 'Mutex')
    checkOwnerWord(Atomics.load(i, W_STATE), 'Mutex')
    checkTid(i[W_OWNER], 'Mutex')
    return new Mutex(kConstruct, placed)
  }

  /**
   * Takes the lock, blocking this thread until it is free or options.timeout ms passed.
   * true; 'recovered' (the holder died with it: the data it guards may be half-written);
   * false when the timeout passed.
   */
  lock (options) {
    const lock = placeOf(this)
    const i = lock.view
    const timeout = options === undefined ? Infinity : waiting.syncOptions(options)
    if (i.length !== 0 && takeFree(i)) return true
    if (i.length === 0) throw closedError()
    const deadline = deadlineOf(timeout)
    for (let k = 0; k < SPIN; k++) {
      if (Atomics.load(i, W_STATE) === 0 && takeFree(i)) return true
    }
    return acquired(drive(lock, ownWord(lock, deadline, true)))
  }

  /** Takes the lock if it is free (or its holder died): true | 'recovered' | false. */
  tryLock () {
    const i = wordsOf(placeOf(this))
    const s = Atomics.load(i, W_STATE)
    if (s === 0 && takeFree(i)) return true
    return tryRecover(i, s, 'Mutex') ?? false
  }

  /**
   * Waits for the lock while the event loop runs; the lock then belongs to this thread.
   * Resolves with true | 'recovered' | false (timed out); rejects with AbortError on options.signal.
   */
  async lockAsync (options) {
    // The options (and the signal's getter) first: a getter may close the segment, and the
    // words are checked (ERR_SHMEM_CLOSED) after it ran, never used detached.
    const { timeout, signal } = waiting.asyncOptions(options)
    if (signal !== undefined && signal.aborted) throw waiting.abortError(signal)
    const lock = placeOf(this)
    if (takeFree(wordsOf(lock))) return true
    return acquired(await driveAsync(lock, ownWord(lock, deadlineOf(timeout), false), signal))
  }

  /** Releases the lock; ERR_SHMEM_NOT_OWNER unless this thread holds it. */
  unlock () {
    const lock = placeOf(this)
    const i = lock.view
    // The fast path: held by this thread and nobody asleep. One compareExchange, and the
    // record stays (a stale record names this thread; the next owner overwrites it, and the
    // liveness check trusts a record only when it names the thread in the lock word).
    if (i[W_OWNER] === TID && i[W_START_LO] === START_LO && i[W_START_HI] === START_HI &&
        Atomics.compareExchange(i, W_STATE, TID, 0) === TID) return
    if (i.length === 0) throw closedError()
    const s = Atomics.load(i, W_STATE)
    if ((s & TID_MASK) !== TID || !recordIsMine(i, W_OWNER)) throw notOwner('Mutex')
    releaseOwner(lock, W_STATE, W_OWNER, false)
  }

  /** lockAsync(), then fn(result), then unlock() (also when fn throws). Returns fn's value. */
  withLock (fn, options) {
    return runAsync(holding(fn, () => this.lockAsync(options), () => this.unlock(), 'Mutex'))
  }

  /** lock(), then fn(result), then unlock() (also when fn throws). Returns fn's value. */
  withLockSync (fn, options) {
    return run(holding(fn, () => this.lock(options), () => this.unlock(), 'Mutex'))
  }

  /** True while some thread (in any process) holds the lock. */
  get locked () { return Atomics.load(wordsOf(placeOf(this)), W_STATE) !== 0 }
  /** How often a dead holder's lock was taken over, since init(). */
  get recoveries () { return Atomics.load(wordsOf(placeOf(this)), W_RECOVERIES) >>> 0 }
}

guardGetters(Mutex, isLock)

module.exports = { Mutex, MUTEX_BYTES }
