'use strict'
// Locks that live inside a segment: Mutex, RwLock and Semaphore, shared by processes and
// worker threads. The algorithms run here, in JS, on Atomics over a view of the mapping
// (hardware atomics, across processes), so an uncontended lock + unlock never enters C; C is
// entered only to sleep (a shared futex), to wake, and to ask whether an owner still lives.
// The format and the recovery rules are in docs/locks.md.

const binding = require('./binding')
const { locate, isPrivate, isSegment } = require('./segment')
const { coded, invalidArgType, outOfRange, closedError, unsupported } = require('./errors')
const { validateInteger } = require('./validate')
const waiting = require('./waiting')

const { OK, TIMED_OUT, CANCELLED, SLICE_MS, deadlineOf, remaining, futexWaitAsync } = waiting

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
const MUTEX_MAGIC = 0x4d4d4853 // 'SHMM'
const RWLOCK_MAGIC = 0x524d4853 // 'SHMR'
const SEM_MAGIC = 0x534d4853 // 'SHMS'

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
// RwLock only.
const W_DRAIN = 8 // bumped when a reader leaves while a writer (or a reader) waits
const W_SLOTS = 9 // the number of reader slots
const W_DRAIN_WAITERS = 10
const W_WRITE_HELD = 11 // 1 once the writer has waited out the readers: it holds the lock
// 1 from the moment a reader frees a dead writer's word until the next writer takes the
// lock: everyone who gets the lock meanwhile hears 'recovered', whoever came first.
const W_DIRTY = 12
const SLOT_BASE = 16 // reader slots: [tid, start lo, start hi, reserved] each
const SLOT_WORDS = 4
const RW_SLOTS = 64
// Semaphore.
const W_COUNT = 3
const W_SEM_WAITERS = 4

const MUTEX_BYTES = 64
const RWLOCK_BYTES = SLOT_BASE * 4 + RW_SLOTS * SLOT_WORDS * 4
const SEM_BYTES = 64

const kConstruct = Symbol('shmem.lock')

function badState (what, detail) {
  return coded(Error, 'ERR_SHMEM_BAD_STATE',
    `The ${what} holds no valid lock state${detail ? `: ${detail}` : ''} ` +
    '(never initialized, overwritten, or another format)')
}

function deadlock (what) {
  return coded(Error, 'ERR_SHMEM_WOULD_DEADLOCK',
    `This thread already holds the ${what}: waiting for it without a timeout would block ` +
    'for good (locks are not recursive)')
}

function notOwner (what) {
  return coded(Error, 'ERR_SHMEM_NOT_OWNER', `This thread does not hold the ${what}`)
}

// The view of [offset, offset + bytes) that a lock lives in, after every check.
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
  if (offset % ALIGNMENT !== 0) {
    throw coded(RangeError, 'ERR_OUT_OF_RANGE',
      `The value of "offset" is out of range. It must be a multiple of ${ALIGNMENT}. ` +
      `Received ${offset}`)
  }
  if (offset + bytes > segment.size) {
    throw outOfRange('offset', `<= ${segment.size - bytes} (a ${what} takes ${bytes} bytes ` +
      `and the segment has ${segment.size})`, offset)
  }
  const view = segment.view(Int32Array, offset, bytes / 4)
  const where = locate(view, 0, 4)
  return { view, handle: where.handle, base: where.offset, segment }
}

function writeHeader (i, magic, bytes) {
  for (let k = 1; k < i.length; k++) Atomics.store(i, k, 0)
  Atomics.store(i, W_VERSION, VERSION)
  Atomics.store(i, W_BYTES, bytes)
  // The magic goes last: whoever attaches meanwhile sees no lock, never half of one.
  Atomics.store(i, W_MAGIC, magic)
}

function checkHeader (i, magic, bytes, what) {
  if (Atomics.load(i, W_MAGIC) !== magic) badStateThrow(what, 'wrong magic number')
  const version = Atomics.load(i, W_VERSION)
  if (version !== VERSION) badStateThrow(what, `format version ${version >>> 0}, not ${VERSION}`)
  if (Atomics.load(i, W_BYTES) !== bytes) badStateThrow(what, 'wrong byte length')
}

function badStateThrow (what, detail) {
  throw badState(what, detail)
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
function releaseOwner (lock, i, word, rec, wakeAll) {
  clearRecord(i, rec)
  const prev = Atomics.exchange(i, word, 0)
  if ((prev & WAITERS) !== 0) {
    binding.futexWake(lock.handle, lock.base + word * 4, wakeAll ? INT32_MAX : 1)
  }
}

// A sleeper that gives up (time, abort) may have taken a wake-up meant for someone else:
// hand it on when the word is free.
function passOn (lock, i, word) {
  for (;;) {
    const s = Atomics.load(i, word)
    if (s === 0) {
      binding.futexWake(lock.handle, lock.base + word * 4, 1)
      return
    }
    // Held: make sure its release wakes the next sleeper.
    if ((s & WAITERS) !== 0 || Atomics.compareExchange(i, word, s, s | WAITERS) === s) return
  }
}

class LockBase {
  #what
  constructor (token, placed, what) {
    if (token !== kConstruct) {
      throw coded(TypeError, 'ERR_ILLEGAL_CONSTRUCTOR',
        `${what} cannot be constructed directly: use ${what}.init() or ${what}.attach()`)
    }
    this.view = placed.view
    this.handle = placed.handle
    this.base = placed.base
    this.segment = placed.segment
    this.#what = what
  }

  /** The Int32Array of the lock's words, after a check that the segment is still open. */
  words () {
    const i = this.view
    if (i.length === 0) throw closedError()
    return i
  }

  get what () { return this.#what }

  sleep (word, value, deadline) {
    const slice = Math.min(remaining(deadline), SLICE_MS)
    return binding.futexWait(this.handle, this.base + word * 4, value, slice, 0)
  }

  async sleepAsync (word, value, deadline, signal) {
    const slice = Math.min(remaining(deadline), SLICE_MS)
    const r = await futexWaitAsync(this.handle, this.base + word * 4, value, slice, signal)
    if (r === CANCELLED || this.view.length === 0) throw closedError()
    return r
  }

  // Waits until the owner word (a Mutex's, a RwLock's writer word) is this thread's: 'ok',
  // 'recovered' or 'timed-out'. A sync wait for a word this thread holds would never end.
  ownWordSync (i, deadline) {
    let checkDead = false
    for (;;) {
      const r = ownerStep(i, W_STATE, W_OWNER, this.what, checkDead)
      if (r === OK) return 'ok'
      if (r === 'recovered') return r
      // Held by this very thread, which is here: only the time can run out.
      if (r < 0 && deadline === Infinity) throw deadlock(this.what)
      if (remaining(deadline) === 0) {
        passOn(this, i, W_STATE)
        return 'timed-out'
      }
      const value = Math.abs(r)
      checkDead = this.sleep(W_STATE, value, deadline) === TIMED_OUT &&
        Atomics.load(i, W_STATE) === value
    }
  }

  // The same while the event loop runs. A word this thread holds (r < 0) is waited for:
  // another task of this thread may release it.
  async ownWordAsync (i, deadline, signal) {
    let checkDead = false
    for (;;) {
      const r = ownerStep(i, W_STATE, W_OWNER, this.what, checkDead)
      if (r === OK) return 'ok'
      if (r === 'recovered') return r
      if (remaining(deadline) === 0) {
        passOn(this, i, W_STATE)
        return 'timed-out'
      }
      const value = Math.abs(r)
      let slept
      try {
        slept = await this.sleepAsync(W_STATE, value, deadline, signal)
      } catch (err) {
        if (this.view.length !== 0) passOn(this, i, W_STATE)
        throw err
      }
      checkDead = slept === TIMED_OUT && Atomics.load(i, W_STATE) === value
    }
  }
}

/** A mutual-exclusion lock inside a segment; survives the death of its holder. */
class Mutex extends LockBase {
  static get byteLength () { return MUTEX_BYTES }
  static get alignment () { return ALIGNMENT }

  /** Writes a fresh, unlocked Mutex at segment[offset] (once, by whoever creates it). */
  static init (segment, offset) {
    const placed = place(segment, offset, MUTEX_BYTES, 'Mutex')
    writeHeader(placed.view, MUTEX_MAGIC, MUTEX_BYTES)
    return new Mutex(kConstruct, placed, 'Mutex')
  }

  /** Attaches to the Mutex at segment[offset]; ERR_SHMEM_BAD_STATE when none is there. */
  static attach (segment, offset) {
    const placed = place(segment, offset, MUTEX_BYTES, 'Mutex')
    const i = placed.view
    checkHeader(i, MUTEX_MAGIC, MUTEX_BYTES, 'Mutex')
    checkOwnerWord(Atomics.load(i, W_STATE), 'Mutex')
    checkTid(i[W_OWNER], 'Mutex')
    return new Mutex(kConstruct, placed, 'Mutex')
  }

  /**
   * Takes the lock, blocking this thread until it is free or options.timeout ms passed.
   * 'ok'; 'recovered' (the holder died with it: the data it guards may be half-written);
   * 'timed-out'.
   */
  lock (options) {
    const i = this.view
    const timeout = options === undefined ? Infinity : waiting.syncOptions(options)
    if (i.length !== 0 && Atomics.compareExchange(i, W_STATE, 0, TID) === 0) {
      writeRecord(i, W_OWNER)
      return 'ok'
    }
    if (i.length === 0) throw closedError()
    const deadline = deadlineOf(timeout)
    for (let k = 0; k < SPIN; k++) {
      if (Atomics.load(i, W_STATE) === 0 && Atomics.compareExchange(i, W_STATE, 0, TID) === 0) {
        writeRecord(i, W_OWNER)
        return 'ok'
      }
    }
    return this.ownWordSync(i, deadline)
  }

  /** Takes the lock if it is free (or its holder died): 'ok' | 'recovered' | 'busy'. */
  tryLock () {
    const i = this.words()
    const s = Atomics.load(i, W_STATE)
    if (s === 0 && Atomics.compareExchange(i, W_STATE, 0, TID) === 0) {
      writeRecord(i, W_OWNER)
      return 'ok'
    }
    if (ownerOf(i, s, W_OWNER, 'Mutex') !== 'taken' || !ownerGone(i, s, W_OWNER, this.what)) return 'busy'
    if (Atomics.compareExchange(i, W_STATE, s, TID | (s & WAITERS)) !== s) return 'busy'
    writeRecord(i, W_OWNER)
    Atomics.add(i, W_RECOVERIES, 1)
    return 'recovered'
  }

  /**
   * Waits for the lock while the event loop runs; the lock then belongs to this thread.
   * Resolves with 'ok' | 'recovered' | 'timed-out'; rejects with AbortError on options.signal.
   */
  async lockAsync (options) {
    // The options (and the signal's getter) first: a getter may close the segment, and the
    // words are checked (ERR_SHMEM_CLOSED) after it ran, never used detached.
    const { timeout, signal } = waiting.asyncOptions(options)
    if (signal !== undefined && signal.aborted) throw waiting.abortError(signal)
    const i = this.words()
    if (Atomics.compareExchange(i, W_STATE, 0, TID) === 0) {
      writeRecord(i, W_OWNER)
      return 'ok'
    }
    return this.ownWordAsync(i, deadlineOf(timeout), signal)
  }

  /** Releases the lock; ERR_SHMEM_NOT_OWNER unless this thread holds it. */
  unlock () {
    const i = this.view
    // The fast path: held by this thread and nobody asleep. One compareExchange, and the
    // record stays (a stale record names this thread; the next owner overwrites it, and the
    // liveness check trusts a record only when it names the thread in the lock word).
    if (i[W_OWNER] === TID && i[W_START_LO] === START_LO && i[W_START_HI] === START_HI &&
        Atomics.compareExchange(i, W_STATE, TID, 0) === TID) return
    if (i.length === 0) throw closedError()
    const s = Atomics.load(i, W_STATE)
    if ((s & TID_MASK) !== TID || !recordIsMine(i, W_OWNER)) throw notOwner('Mutex')
    releaseOwner(this, i, W_STATE, W_OWNER, false)
  }

  /** lockAsync(), then fn(result), then unlock() (also when fn throws). Returns fn's value. */
  async withLock (fn, options) {
    if (typeof fn !== 'function') throw invalidArgType('fn', 'of type function', fn)
    const r = await this.lockAsync(options)
    if (r === 'timed-out') throw timedOut('Mutex')
    try {
      return await fn(r)
    } finally {
      this.unlock()
    }
  }

  /** lock(), then fn(result), then unlock() (also when fn throws). Returns fn's value. */
  withLockSync (fn, options) {
    if (typeof fn !== 'function') throw invalidArgType('fn', 'of type function', fn)
    const r = this.lock(options)
    if (r === 'timed-out') throw timedOut('Mutex')
    try {
      return fn(r)
    } finally {
      this.unlock()
    }
  }

  /** True while some thread (in any process) holds the lock. */
  get locked () { return Atomics.load(this.words(), W_STATE) !== 0 }
  /** How often a dead holder's lock was taken over, since init(). */
  get recoveries () { return Atomics.load(this.words(), W_RECOVERIES) >>> 0 }
}

function timedOut (what) {
  return coded(Error, 'ERR_SHMEM_TIMED_OUT', `Timed out waiting for the ${what}`)
}

// ---------------------------------------------------------------------------------------
// RwLock: one writer word (a Mutex's, with the same recovery) and a table of reader slots.
// A reader takes a slot (its thread id and start time) and then checks that no writer holds
// or waits; a writer takes the writer word and then waits for the slots to empty. Both steps
// are seq_cst Atomics, so each sees the other (Dekker). Since each reader is named in its slot,
// a dead reader is found and its slot cleared: it cannot keep writers out for good.

const slotAt = (k) => SLOT_BASE + k * SLOT_WORDS

class RwLock extends LockBase {
  #slots = [] // the slots this object took for this thread's read locks

  static get byteLength () { return RWLOCK_BYTES }
  static get alignment () { return ALIGNMENT }
  /** How many threads may hold read locks at once; more wait for a slot. */
  static get maxReaders () { return RW_SLOTS }

  static init (segment, offset) {
    const placed = place(segment, offset, RWLOCK_BYTES, 'RwLock')
    const i = placed.view
    for (let k = 1; k < i.length; k++) Atomics.store(i, k, 0)
    Atomics.store(i, W_SLOTS, RW_SLOTS)
    Atomics.store(i, W_VERSION, VERSION)
    Atomics.store(i, W_BYTES, RWLOCK_BYTES)
    Atomics.store(i, W_MAGIC, RWLOCK_MAGIC)
    return new RwLock(kConstruct, placed, 'RwLock')
  }

  static attach (segment, offset) {
    const placed = place(segment, offset, RWLOCK_BYTES, 'RwLock')
    const i = placed.view
    checkHeader(i, RWLOCK_MAGIC, RWLOCK_BYTES, 'RwLock')
    if (Atomics.load(i, W_SLOTS) !== RW_SLOTS) throw badState('RwLock', 'wrong slot count')
    if ((Atomics.load(i, W_WRITE_HELD) & ~1) !== 0) throw badState('RwLock', 'writer flag')
    if ((Atomics.load(i, W_DIRTY) & ~1) !== 0) throw badState('RwLock', 'recovery flag')
    checkOwnerWord(Atomics.load(i, W_STATE), 'RwLock')
    checkTid(i[W_OWNER], 'RwLock')
    for (let k = 0; k < RW_SLOTS; k++) checkTid(Atomics.load(i, slotAt(k)), 'RwLock')
    return new RwLock(kConstruct, placed, 'RwLock')
  }

  // Clears the slots of readers that are gone; true when any was cleared.
  #reapReaders (i) {
    let reaped = false
    for (let k = 0; k < RW_SLOTS; k++) {
      const at = slotAt(k)
      const t = Atomics.load(i, at)
      if (t === 0) continue
      checkTid(t, 'RwLock')
      const start = startAt(i, at + 1, 'RwLock')
      const gone = t === TID ? (start !== 0 && start !== START) : !binding.threadAlive(t, start)
      if (!gone || Atomics.load(i, at) !== t) continue
      // Clear the dead reader's start time while the slot is still its own, so that whoever
      // takes the slot next is never judged by it.
      i[at + 1] = 0
      i[at + 2] = 0
      if (Atomics.compareExchange(i, at, t, 0) === t) reaped = true
    }
    if (reaped) this.#drained(i, true)
    return reaped
  }

  // A slot is held by this thread (a read lock of its own).
  #readByMe (i) {
    for (let k = 0; k < RW_SLOTS; k++) {
      const at = slotAt(k)
      if (Atomics.load(i, at) === TID && recordIsMine(i, at)) return true
    }
    return false
  }

  #anyReader (i) {
    for (let k = 0; k < RW_SLOTS; k++) {
      const t = Atomics.load(i, slotAt(k))
      if (t !== 0) {
        checkTid(t, 'RwLock')
        return true
      }
    }
    return false
  }

  // Tells sleepers on the drain word that a slot emptied.
  #drained (i, force) {
    if (force || Atomics.load(i, W_STATE) !== 0 || Atomics.load(i, W_DRAIN_WAITERS) !== 0) {
      Atomics.add(i, W_DRAIN, 1)
      binding.futexWake(this.handle, this.base + W_DRAIN * 4, INT32_MAX)
    }
  }

  // One try at a read lock: a slot index, or 'writer' (a writer holds or waits), or 'full'.
  #readStep (i) {
    if (Atomics.load(i, W_STATE) !== 0) return 'writer'
    const first = TID % RW_SLOTS
    for (let j = 0; j < RW_SLOTS; j++) {
      const k = (first + j) % RW_SLOTS
      const at = slotAt(k)
      if (Atomics.load(i, at) !== 0) continue
      if (Atomics.compareExchange(i, at, 0, TID) !== 0) continue
      i[at + 1] = START_LO
      i[at + 2] = START_HI
      if (Atomics.load(i, W_STATE) !== 0) {
        this.#leaveSlot(i, k)
        return 'writer'
      }
      this.#slots.push(k)
      return k
    }
    return 'full'
  }

  #leaveSlot (i, k) {
    const at = slotAt(k)
    i[at + 1] = 0
    i[at + 2] = 0
    Atomics.store(i, at, 0)
    this.#drained(i, false)
  }

  #tryRead (i, checkDead) {
    const step = this.#readStep(i)
    if (typeof step === 'number') return { done: 'ok' }
    if (step === 'writer') {
      const s = Atomics.load(i, W_STATE)
      if (s === 0) return { retry: true }
      const who = ownerOf(i, s, W_OWNER, 'RwLock')
      if (who !== 'mine' && checkDead && ownerGone(i, s, W_OWNER, this.what)) {
        // A dead writer: free the word and wake everyone; the data may be half-written, and
        // whoever gets the lock next, reader or writer, hears so (W_DIRTY, set first).
        Atomics.store(i, W_DIRTY, 1)
        if (Atomics.compareExchange(i, W_STATE, s, 0) === s) {
          clearRecord(i, W_OWNER)
          Atomics.store(i, W_WRITE_HELD, 0)
          Atomics.add(i, W_RECOVERIES, 1)
          binding.futexWake(this.handle, this.base + W_STATE * 4, INT32_MAX)
          return { retry: true, recovered: true }
        }
        return { retry: true }
      }
      if ((s & WAITERS) === 0 && Atomics.compareExchange(i, W_STATE, s, s | WAITERS) !== s) {
        return { retry: true }
      }
      return { mine: who === 'mine', word: W_STATE, value: s | WAITERS }
    }
    // Every slot is taken: sleep on the drain word, and look for dead readers meanwhile.
    const seq = Atomics.load(i, W_DRAIN)
    if (checkDead && this.#reapReaders(i)) return { retry: true }
    Atomics.add(i, W_DRAIN_WAITERS, 1)
    return { word: W_DRAIN, value: seq, counted: true }
  }

  /** Takes a read lock (blocking): 'ok' | 'recovered' (a writer died) | 'timed-out'. */
  readLock (options) {
    const deadline = deadlineOf(waiting.syncOptions(options)) // before words(): see lockAsync
    const i = this.words()
    let recovered = false
    let checkDead = false
    for (;;) {
      const t = this.#tryRead(i, checkDead)
      if (t.recovered) recovered = true
      if (t.done) return recovered || Atomics.load(i, W_DIRTY) === 1 ? 'recovered' : 'ok'
      if (t.retry) continue
      if (t.mine && deadline === Infinity) throw deadlock('RwLock (as writer)')
      if (remaining(deadline) === 0) {
        if (t.counted) Atomics.sub(i, W_DRAIN_WAITERS, 1)
        return 'timed-out'
      }
      const r = this.sleep(t.word, t.value, deadline)
      if (t.counted) Atomics.sub(i, W_DRAIN_WAITERS, 1)
      checkDead = r === TIMED_OUT
    }
  }

  /** A read lock if one can be had now: 'ok' | 'recovered' | 'busy'. */
  tryReadLock () {
    const i = this.words()
    let recovered = false
    for (let n = 0; n < 4; n++) {
      const t = this.#tryRead(i, true)
      if (t.counted) Atomics.sub(i, W_DRAIN_WAITERS, 1)
      if (t.recovered) recovered = true
      if (t.done) return recovered || Atomics.load(i, W_DIRTY) === 1 ? 'recovered' : 'ok'
      if (!t.retry) return 'busy'
    }
    return 'busy'
  }

  /** A read lock while the event loop runs: 'ok' | 'recovered' | 'timed-out'. */
  async readLockAsync (options) {
    // The options (and the signal's getter) first: a getter may close the segment, and the
    // words are checked (ERR_SHMEM_CLOSED) after it ran, never used detached.
    const { timeout, signal } = waiting.asyncOptions(options)
    if (signal !== undefined && signal.aborted) throw waiting.abortError(signal)
    const i = this.words()
    const deadline = deadlineOf(timeout)
    let recovered = false
    let checkDead = false
    for (;;) {
      const t = this.#tryRead(i, checkDead)
      if (t.recovered) recovered = true
      if (t.done) return recovered || Atomics.load(i, W_DIRTY) === 1 ? 'recovered' : 'ok'
      if (t.retry) continue
      if (remaining(deadline) === 0) {
        if (t.counted) Atomics.sub(i, W_DRAIN_WAITERS, 1)
        return 'timed-out'
      }
      let r
      try {
        r = await this.sleepAsync(t.word, t.value, deadline, signal)
      } finally {
        if (t.counted && this.view.length !== 0) Atomics.sub(i, W_DRAIN_WAITERS, 1)
      }
      checkDead = r === TIMED_OUT
    }
  }

  // Gives the writer word back, if this thread still has it (a drain that gave up).
  #releaseWriter (i) {
    const s = Atomics.load(i, W_STATE)
    if ((s & TID_MASK) !== TID || !recordIsMine(i, W_OWNER)) return
    Atomics.store(i, W_WRITE_HELD, 0)
    releaseOwner(this, i, W_STATE, W_OWNER, true)
  }

  // The writer holds the word; wait until no reader holds a slot. 'ok', or 'timed-out' (the
  // word is released again), or throws.
  #drainSync (i, deadline) {
    let checkDead = false
    for (;;) {
      const seq = Atomics.load(i, W_DRAIN)
      if (!this.#anyReader(i)) return 'ok'
      if (checkDead && this.#reapReaders(i)) continue
      if (deadline === Infinity && this.#readByMe(i)) {
        this.#releaseWriter(i)
        throw deadlock('RwLock (as reader)')
      }
      if (remaining(deadline) === 0) {
        this.#releaseWriter(i)
        return 'timed-out'
      }
      checkDead = this.sleep(W_DRAIN, seq, deadline) === TIMED_OUT
    }
  }

  async #drainAsync (i, deadline, signal) {
    let checkDead = false
    for (;;) {
      const seq = Atomics.load(i, W_DRAIN)
      if (!this.#anyReader(i)) return 'ok'
      if (checkDead && this.#reapReaders(i)) continue
      if (remaining(deadline) === 0) {
        this.#releaseWriter(i)
        return 'timed-out'
      }
      let r
      try {
        r = await this.sleepAsync(W_DRAIN, seq, deadline, signal)
      } catch (err) {
        if (this.view.length !== 0) this.#releaseWriter(i)
        throw err
      }
      checkDead = r === TIMED_OUT
    }
  }

  // The writer has waited out the readers: the lock is held now. A reader that freed a dead
  // writer's word since the last writer (W_DIRTY) makes this 'recovered' too.
  #held (i, result) {
    Atomics.store(i, W_WRITE_HELD, 1)
    return Atomics.exchange(i, W_DIRTY, 0) === 1 ? 'recovered' : result
  }

  /** Takes the write lock (blocking): 'ok' | 'recovered' (a writer died) | 'timed-out'. */
  writeLock (options) {
    const deadline = deadlineOf(waiting.syncOptions(options)) // before words(): see lockAsync
    const i = this.words()
    let result = 'ok'
    if (Atomics.compareExchange(i, W_STATE, 0, TID) === 0) {
      writeRecord(i, W_OWNER)
    } else {
      result = this.ownWordSync(i, deadline)
      if (result === 'timed-out') return result
    }
    Atomics.store(i, W_WRITE_HELD, 0) // taken over from a dead writer: not held until drained
    const d = this.#drainSync(i, deadline)
    if (d !== 'ok') return d
    return this.#held(i, result)
  }

  /** The write lock if it can be had now: 'ok' | 'recovered' | 'busy'. */
  tryWriteLock () {
    const i = this.words()
    const s = Atomics.load(i, W_STATE)
    let result
    if (s === 0 && Atomics.compareExchange(i, W_STATE, 0, TID) === 0) {
      result = 'ok'
    } else if (ownerOf(i, s, W_OWNER, 'RwLock') === 'taken' && ownerGone(i, s, W_OWNER, this.what) &&
               Atomics.compareExchange(i, W_STATE, s, TID | (s & WAITERS)) === s) {
      Atomics.add(i, W_RECOVERIES, 1)
      result = 'recovered'
    } else {
      return 'busy'
    }
    writeRecord(i, W_OWNER)
    Atomics.store(i, W_WRITE_HELD, 0)
    if (this.#anyReader(i)) this.#reapReaders(i)
    if (this.#anyReader(i)) {
      this.#releaseWriter(i)
      return 'busy'
    }
    return this.#held(i, result)
  }

  /** The write lock while the event loop runs: 'ok' | 'recovered' | 'timed-out'. */
  async writeLockAsync (options) {
    // The options (and the signal's getter) first: a getter may close the segment, and the
    // words are checked (ERR_SHMEM_CLOSED) after it ran, never used detached.
    const { timeout, signal } = waiting.asyncOptions(options)
    if (signal !== undefined && signal.aborted) throw waiting.abortError(signal)
    const i = this.words()
    const deadline = deadlineOf(timeout)
    let result = 'ok'
    if (Atomics.compareExchange(i, W_STATE, 0, TID) === 0) {
      writeRecord(i, W_OWNER)
    } else {
      result = await this.ownWordAsync(i, deadline, signal)
      if (result === 'timed-out') return result
    }
    Atomics.store(i, W_WRITE_HELD, 0)
    const d = await this.#drainAsync(i, deadline, signal)
    if (d !== 'ok') return d
    return this.#held(i, result)
  }

  /** Releases this thread's write lock, or else one of its read locks. */
  unlock () {
    const i = this.words()
    const s = Atomics.load(i, W_STATE)
    // The write lock only once it is held: a writer of this thread still waiting for readers
    // to leave has the word, but not the lock, and a read lock of this thread is released.
    if (s !== 0 && (s & TID_MASK) === TID && recordIsMine(i, W_OWNER) &&
        Atomics.load(i, W_WRITE_HELD) === 1) {
      Atomics.store(i, W_WRITE_HELD, 0)
      releaseOwner(this, i, W_STATE, W_OWNER, true)
      return
    }
    while (this.#slots.length > 0) {
      const k = this.#slots.pop()
      const at = slotAt(k)
      if (Atomics.load(i, at) === TID && recordIsMine(i, at)) {
        this.#leaveSlot(i, k)
        return
      }
    }
    // A read lock this thread took through another RwLock object over the same words.
    for (let k = 0; k < RW_SLOTS; k++) {
      const at = slotAt(k)
      if (Atomics.load(i, at) === TID && recordIsMine(i, at)) {
        this.#leaveSlot(i, k)
        return
      }
    }
    throw notOwner('RwLock')
  }

  async withReadLock (fn, options) {
    if (typeof fn !== 'function') throw invalidArgType('fn', 'of type function', fn)
    const r = await this.readLockAsync(options)
    if (r === 'timed-out') throw timedOut('RwLock')
    try {
      return await fn(r)
    } finally {
      this.unlock()
    }
  }

  async withWriteLock (fn, options) {
    if (typeof fn !== 'function') throw invalidArgType('fn', 'of type function', fn)
    const r = await this.writeLockAsync(options)
    if (r === 'timed-out') throw timedOut('RwLock')
    try {
      return await fn(r)
    } finally {
      this.unlock()
    }
  }

  /** Read locks held now, in every process. */
  get readers () {
    const i = this.words()
    let n = 0
    for (let k = 0; k < RW_SLOTS; k++) if (Atomics.load(i, slotAt(k)) !== 0) n++
    return n
  }

  /** True while a writer holds (or waits for readers to leave) the lock. */
  get writeLocked () { return Atomics.load(this.words(), W_STATE) !== 0 }
  get recoveries () { return Atomics.load(this.words(), W_RECOVERIES) >>> 0 }
}

// ---------------------------------------------------------------------------------------
// Semaphore: a count, and how many may sleep on it. It has no owner, so nothing is recovered
// when a process dies between wait() and post(): the count stays one lower (docs/locks.md).

class Semaphore extends LockBase {
  static get byteLength () { return SEM_BYTES }
  static get alignment () { return ALIGNMENT }
  static get maxValue () { return INT32_MAX }

  /** Writes a fresh Semaphore holding initialCount at segment[offset]. */
  static init (segment, offset, initialCount = 0) {
    const count = validateInteger(initialCount, 'initialCount', 0, INT32_MAX)
    const placed = place(segment, offset, SEM_BYTES, 'Semaphore')
    const i = placed.view
    writeHeader(i, SEM_MAGIC, SEM_BYTES)
    Atomics.store(i, W_COUNT, count)
    return new Semaphore(kConstruct, placed, 'Semaphore')
  }

  static attach (segment, offset) {
    const placed = place(segment, offset, SEM_BYTES, 'Semaphore')
    const i = placed.view
    checkHeader(i, SEM_MAGIC, SEM_BYTES, 'Semaphore')
    if (Atomics.load(i, W_COUNT) < 0) throw badState('Semaphore', 'negative count')
    return new Semaphore(kConstruct, placed, 'Semaphore')
  }

  #take (i) {
    for (;;) {
      const c = Atomics.load(i, W_COUNT)
      if (c < 0) throw badState('Semaphore', 'negative count')
      if (c === 0) return false
      if (Atomics.compareExchange(i, W_COUNT, c, c - 1) === c) return true
    }
  }

  /** Takes one unit, blocking while the count is 0: 'ok' | 'timed-out'. */
  wait (options) {
    const timeout = options === undefined ? Infinity : waiting.syncOptions(options)
    const i = this.words() // after the options: a getter among them may close the segment
    if (this.#take(i)) return 'ok'
    const deadline = deadlineOf(timeout)
    for (let k = 0; k < SPIN; k++) if (this.#take(i)) return 'ok'
    for (;;) {
      if (this.#take(i)) return 'ok'
      if (remaining(deadline) === 0) return 'timed-out'
      Atomics.add(i, W_SEM_WAITERS, 1)
      try {
        this.sleep(W_COUNT, 0, deadline)
      } finally {
        Atomics.sub(i, W_SEM_WAITERS, 1)
      }
    }
  }

  /** Takes one unit if the count is above 0. */
  tryWait () {
    return this.#take(this.words())
  }

  /** wait() while the event loop runs: 'ok' | 'timed-out'; AbortError on options.signal. */
  async waitAsync (options) {
    // The options (and the signal's getter) first: a getter may close the segment, and the
    // words are checked (ERR_SHMEM_CLOSED) after it ran, never used detached.
    const { timeout, signal } = waiting.asyncOptions(options)
    if (signal !== undefined && signal.aborted) throw waiting.abortError(signal)
    const i = this.words()
    const deadline = deadlineOf(timeout)
    for (;;) {
      if (this.#take(i)) return 'ok'
      if (remaining(deadline) === 0) return 'timed-out'
      Atomics.add(i, W_SEM_WAITERS, 1)
      try {
        await this.sleepAsync(W_COUNT, 0, deadline, signal)
      } finally {
        if (this.view.length !== 0) Atomics.sub(i, W_SEM_WAITERS, 1)
      }
    }
  }

  /** Adds n units (default 1) and wakes up to n sleepers. */
  post (n = 1) {
    n = validateInteger(n, 'n', 1, INT32_MAX)
    const i = this.words()
    for (;;) {
      const c = Atomics.load(i, W_COUNT)
      if (c < 0) throw badState('Semaphore', 'negative count')
      if (c > INT32_MAX - n) {
        throw outOfRange('n', `<= ${INT32_MAX - c} (the count may not pass ${INT32_MAX})`, n)
      }
      if (Atomics.compareExchange(i, W_COUNT, c, c + n) === c) break
    }
    if (Atomics.load(i, W_SEM_WAITERS) !== 0) {
      binding.futexWake(this.handle, this.base + W_COUNT * 4, n)
    }
  }

  /** The count now. */
  get value () { return Atomics.load(this.words(), W_COUNT) }
}

module.exports = { Mutex, RwLock, Semaphore }
