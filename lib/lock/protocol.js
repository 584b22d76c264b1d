'use strict'
// What the three locks share: who this thread is, the word layout, placing a lock in a
// segment and checking what is there, the errors, and the owner-word protocol (a Mutex's
// word, a RwLock's writer word): taking it, recovering it from a dead owner, releasing it.
// The format and the recovery rules are in docs/locks.md.

const binding = require('../binding')
const { locate, isPrivate, isSegment } = require('../segment')
const { makeError, invalidArgType, outOfRange, closedError, unsupported } = require('../errors')
const { validateInteger } = require('../validate')
const { OK, TIMED_OUT, remaining } = require('../waiting')
const { sleepOn } = require('./drive')

// Who this thread is: its kernel thread id and start time. Module state is per thread
// (a worker loads its own copy), which is exactly what ownership needs.
const [TID, START] = binding.threadSelf()
const START_LO = (START % 0x100000000) | 0
const START_HI = Math.floor(START / 0x100000000) | 0

const VERSION = 1
const WAITERS = 1 << 30 // in a state word: someone may sleep on it
const TID_MASK = WAITERS - 1 // Linux thread ids stay below 2^22 (PID_MAX_LIMIT)
const TID_MAX = 1 << 22
const INT32_MAX = 0x7fffffff
// A sleeper wakes at least every waiting.SLICE_MS to see whether the owner still lives: a dead
// owner is noticed within one slice (plus the /proc read), and a lost wake-up costs at most one.

// Tries before the first sleep. Each is a load and perhaps a CAS: a few microseconds in all,
// short enough not to starve a peer that shares the CPU.
const SPIN = 64

const ALIGNMENT = 8

// Word indexes. Every structure starts with magic, version and its byte length.
const W_MAGIC = 0
const W_VERSION = 1
const W_BYTES = 2
// Mutex and RwLock: the owner (writer) word and the owner's record.
const W_STATE = 3
const W_OWNER = 4 // the owner's thread id, written once it holds the lock
const W_START_LO = 5 // and its start time, so that a reused id is not taken for it
const W_START_HI = 6
const W_RECOVERIES = 7

const kConstruct = Symbol('shmem.lock')

let placeOf
let isLock // (value) => whether value is a Mutex, RwLock or Semaphore

/**
 * What Mutex, RwLock and Semaphore share: where their words are (place()'s record), private.
 * placeOf(lock) hands it to the lock modules; nothing of it shows on the object. Only the
 * factories construct a lock: they pass kConstruct.
 */
class Lock {
  #place

  constructor (token, placed) {
    if (token !== kConstruct) {
      // Named as the class that was called: Mutex, RwLock or Semaphore.
      let kind = new.target
      while (Object.getPrototypeOf(kind) !== Lock) kind = Object.getPrototypeOf(kind)
      const what = kind.name
      throw makeError('ERR_ILLEGAL_CONSTRUCTOR', what, `${what}.init() or ${what}.attach()`)
    }
    this.#place = placed
  }

  static get alignment () { return ALIGNMENT }

  static {
    placeOf = (lock) => lock.#place
    isLock = (value) => value !== null && typeof value === 'object' && #place in value
  }
}

function badState (what, detail) {
  return makeError('ERR_SHMEM_BAD_STATE', `The ${what}`,
    `${detail} (no valid lock state: never initialized, overwritten, or another format)`)
}

function deadlock (what) {
  return makeError('ERR_SHMEM_WOULD_DEADLOCK', `This thread already holds the ${what}`,
    'locks are not recursive')
}

function notOwner (what) {
  return makeError('ERR_SHMEM_NOT_OWNER', `This thread does not hold the ${what}`)
}

function timedOut (what) {
  return makeError('ERR_SHMEM_TIMED_OUT', what)
}

/**
 * Where a lock lives, after every check: { view, handle, base, segment, what }, view an
 * Int32Array of its words, handle and base the mapping's and the lock's first byte in it (for
 * the futex calls). The segment is kept so that the mapping lives as long as the lock.
 */
function place (segment, offset, bytes, what) {
  if (!isSegment(segment)) {
    throw invalidArgType('segment', 'an instance of Segment', segment)
  }
  if (segment.closed) throw closedError()
  if (segment.readOnly) {
    throw unsupported(`A ${what} needs a writable mapping; this segment is read-only`)
  }
  if (isPrivate(segment)) {
    throw unsupported(`A ${what} needs a shared mapping; this segment is private ` +
      '(MAP_PRIVATE): no other process would see it')
  }
  offset = validateInteger(offset, 'offset', 0, Number.MAX_SAFE_INTEGER)
  if (offset % ALIGNMENT !== 0) throw outOfRange('offset', `a multiple of ${ALIGNMENT}`, offset)
  if (offset + bytes > segment.size) {
    throw outOfRange('offset', `<= ${segment.size - bytes} (a ${what} takes ${bytes} bytes ` +
      `and the segment has ${segment.size})`, offset)
  }
  const view = segment.view(Int32Array, offset, bytes / 4)
  const where = locate(view, 0, 4)
  return { view, handle: where.handle, base: where.offset, segment, what }
}

/** The lock's words, after a check that the segment is still open. */
function wordsOf (lock) {
  const i = lock.view
  if (i.length === 0) throw closedError()
  return i
}

// Zeroes the words and writes the header; `before` writes what must be there before the magic.
function writeHeader (i, magic, bytes, before) {
  for (let k = 1; k < i.length; k++) Atomics.store(i, k, 0)
  if (before !== undefined) before(i)
  Atomics.store(i, W_VERSION, VERSION)
  Atomics.store(i, W_BYTES, bytes)
  // The magic goes last: whoever attaches meanwhile sees no lock, never half of one.
  Atomics.store(i, W_MAGIC, magic)
}

function checkHeader (i, magic, bytes, what) {
  if (Atomics.load(i, W_MAGIC) !== magic) throw badState(what, 'wrong magic number')
  const version = Atomics.load(i, W_VERSION)
  if (version !== VERSION) throw badState(what, `format version ${version >>> 0}, not ${VERSION}`)
  if (Atomics.load(i, W_BYTES) !== bytes) throw badState(what, 'wrong byte length')
}

// An owner word is 0, or a thread id with perhaps the WAITERS bit: anything else is garbage.
function checkOwnerWord (s, what) {
  if ((s & ~(TID_MASK | WAITERS)) !== 0 || (s !== 0 && ((s & TID_MASK) === 0 ||
      (s & TID_MASK) >= TID_MAX))) {
    throw badState(what, `owner word 0x${(s >>> 0).toString(16)}`)
  }
}

function checkTid (t, what) {
  if (t < 0 || t >= TID_MAX) throw badState(what, `thread id ${t}`)
}

// Ownership of a word with a record beside it: [tid, start lo, start hi] at `rec`.
function recordIsMine (i, rec) {
  return i[rec] === TID && i[rec + 1] === START_LO && i[rec + 2] === START_HI
}

function writeRecord (i, rec) {
  i[rec] = TID
  i[rec + 1] = START_LO
  i[rec + 2] = START_HI
}

function clearRecord (i, rec) {
  i[rec] = 0
  i[rec + 1] = 0
  i[rec + 2] = 0
}

// A recorded start time (clock ticks since boot; 2^53 ticks is 2.8 million years at 100 Hz).
function startAt (i, at, what) {
  const hi = i[at + 1] >>> 0
  if (hi >= 0x200000) throw badState(what, `start time word 0x${hi.toString(16)}`)
  return hi * 0x100000000 + (i[at] >>> 0)
}

// Is the owner in word value s (with its record at rec) gone for good? The record names the
// thread with its start time once the owner has written it; before that (the owner died, or
// is, between its CAS and its record) only the id can be checked.
function ownerGone (i, s, rec, what) {
  const tid = s & TID_MASK
  let start = 0
  if (i[rec] === tid) start = startAt(i, rec + 1, what)
  if (tid === TID && start !== 0 && start !== START) return true // our id, an earlier thread
  return !binding.threadAlive(tid, start)
}

// The owner word's state for the caller: 'free', 'mine', 'taken' (validated).
function ownerOf (i, s, rec, what) {
  if (s === 0) return 'free'
  checkOwnerWord(s, what)
  if ((s & TID_MASK) === TID && recordIsMine(i, rec)) return 'mine'
  return 'taken'
}

// The uncontended take of a lock's owner word: one compareExchange. True when it is ours.
function takeFree (i) {
  if (Atomics.compareExchange(i, W_STATE, 0, TID) !== 0) return false
  writeRecord(i, W_OWNER)
  return true
}

// A dead owner's word (it held s) taken over at once, for a try: 'recovered', or null.
function tryRecover (i, s, what) {
  if (ownerOf(i, s, W_OWNER, what) !== 'taken' || !ownerGone(i, s, W_OWNER, what)) return null
  if (Atomics.compareExchange(i, W_STATE, s, TID | (s & WAITERS)) !== s) return null
  writeRecord(i, W_OWNER)
  Atomics.add(i, W_RECOVERIES, 1)
  return 'recovered'
}

/**
 * One owner word (a Mutex, or a RwLock's writer): a step of acquiring it. Returns OK or
 * 'recovered' when the caller now holds it; else the word's value to sleep on (its WAITERS
 * bit set, so that the release wakes the caller): positive when another thread holds it,
 * negated when this very thread does. checkDead: ask /proc whether the owner still lives
 * (done after a slice of sleep without progress, never on the fast path).
 */
function ownerStep (i, word, rec, what, checkDead) {
  for (;;) {
    const s = Atomics.load(i, word)
    if (s === 0) {
      // WAITERS stays set: the caller may not be the only one who slept.
      if (Atomics.compareExchange(i, word, 0, TID | WAITERS) === 0) {
        writeRecord(i, rec)
        return OK
      }
      continue
    }
    const who = ownerOf(i, s, rec, what)
    if (who !== 'mine' && checkDead && ownerGone(i, s, rec, what)) {
      if (Atomics.compareExchange(i, word, s, TID | (s & WAITERS)) === s) {
        writeRecord(i, rec)
        Atomics.add(i, W_RECOVERIES, 1)
        return 'recovered'
      }
      continue
    }
    if ((s & WAITERS) === 0) {
      if (Atomics.compareExchange(i, word, s, s | WAITERS) !== s) continue
    }
    return who === 'mine' ? -(s | WAITERS) : (s | WAITERS)
  }
}

// Releases an owner word this thread holds; wakes one sleeper (a Mutex) or all (a RwLock).
function releaseOwner (lock, word, rec, wakeAll) {
  const i = lock.view
  clearRecord(i, rec)
  const prev = Atomics.exchange(i, word, 0)
  if ((prev & WAITERS) !== 0) wake(lock, word, wakeAll ? INT32_MAX : 1)
}

// A sleeper that gives up (time, abort) may have taken a wake-up meant for someone else:
// hand it on when the word is free.
function passOn (lock, word) {
  const i = lock.view
  for (;;) {
    const s = Atomics.load(i, word)
    if (s === 0) {
      wake(lock, word, 1)
      return
    }
    // Held: make sure its release wakes the next sleeper.
    if ((s & WAITERS) !== 0 || Atomics.compareExchange(i, word, s, s | WAITERS) === s) return
  }
}

function wake (lock, word, count) {
  binding.futexWake(lock.handle, lock.base + word * 4, count)
}

/**
 * Waits until the owner word (a Mutex's, a RwLock's writer word) is this thread's: 'ok',
 * 'recovered' or 'timed-out'; a generator for drive() or driveAsync(). blocking: the wait
 * blocks this thread, so a word this very thread holds would never be released (a deadlock
 * error unless a timeout ends it); an asynchronous wait waits for it, since another task of
 * this thread may release it.
 */
function * ownWord (lock, deadline, blocking) {
  const i = lock.view
  let checkDead = false
  for (;;) {
    const r = ownerStep(i, W_STATE, W_OWNER, lock.what, checkDead)
    if (r === OK) return 'ok'
    if (r === 'recovered') return r
    if (r < 0 && blocking && deadline === Infinity) throw deadlock(lock.what)
    if (remaining(deadline) === 0) {
      passOn(lock, W_STATE)
      return 'timed-out'
    }
    const value = Math.abs(r)
    let slept
    try {
      slept = yield sleepOn(W_STATE, value, deadline)
    } catch (err) {
      if (lock.view.length !== 0) passOn(lock, W_STATE)
      throw err
    }
    checkDead = slept === TIMED_OUT && Atomics.load(i, W_STATE) === value
  }
}

/**
 * What an acquire returns to the user, from the loops' 'ok' | 'recovered' | 'busy' |
 * 'timed-out': true (held), 'recovered' (held, taken from a holder that died with it: the
 * data it guards may be half-written) or false (busy, or timed out). No failure is truthy,
 * so `if (mutex.tryLock())` reads as it should.
 */
function acquired (r) {
  return r === 'recovered' ? r : r === 'ok'
}

/**
 * The with* helpers: acquire() (a result or its promise), then fn(result), then release()
 * (also when fn throws); fn's value. ERR_SHMEM_TIMED_OUT when the acquire timed out.
 * A generator for run() or runAsync(), which hand every yielded value back, awaited or not.
 */
function * holding (fn, acquire, release, what) {
  if (typeof fn !== 'function') throw invalidArgType('fn', 'of type function', fn)
  const r = yield acquire()
  if (r === false) throw timedOut(what)
  try {
    return yield fn(r)
  } finally {
    release()
  }
}

module.exports = {
  acquired,
  TID,
  START,
  START_LO,
  START_HI,
  WAITERS,
  TID_MASK,
  INT32_MAX,
  SPIN,
  W_STATE,
  W_OWNER,
  W_START_LO,
  W_START_HI,
  W_RECOVERIES,
  kConstruct,
  Lock,
  placeOf,
  isLock,
  badState,
  deadlock,
  notOwner,
  place,
  wordsOf,
  writeHeader,
  checkHeader,
  checkOwnerWord,
  checkTid,
  recordIsMine,
  clearRecord,
  startAt,
  ownerGone,
  ownerOf,
  takeFree,
  tryRecover,
  releaseOwner,
  wake,
  ownWord,
  holding
}
