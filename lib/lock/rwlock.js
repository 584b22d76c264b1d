'use strict'
// RwLock: one writer word (a Mutex's, with the same recovery) and a table of reader slots.
// A reader takes a slot (its thread id and start time) and then checks that no writer holds
// or waits; a writer takes the writer word and then waits for the slots to empty. Both steps
// are seq_cst Atomics, so each sees the other (Dekker). Since each reader is named in its slot,
// a dead reader is found and its slot cleared: it cannot keep writers out for good.

const binding = require('../binding')
const waiting = require('../waiting')
const { drive, driveAsync, runAsync, sleepOn } = require('./drive')
const { guardGetters } = require('../validate')
const {
  isLock,
  acquired,
  TID, START, START_LO, START_HI, INT32_MAX, WAITERS, TID_MASK, W_STATE, W_OWNER,
  W_RECOVERIES, kConstruct, Lock, placeOf, badState, deadlock, notOwner, place, wordsOf,
  writeHeader, checkHeader, checkOwnerWord, checkTid, recordIsMine, clearRecord, startAt, ownerGone,
  ownerOf, takeFree, tryRecover, releaseOwner, wake, ownWord, holding
} = require('./protocol')

const { TIMED_OUT, deadlineOf, remaining } = waiting

const RWLOCK_MAGIC = 0x524d4853 // 'SHMR'
// Word indexes after the owner word and its record (protocol.js).
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
const RWLOCK_BYTES = SLOT_BASE * 4 + RW_SLOTS * SLOT_WORDS * 4

const slotAt = (k) => SLOT_BASE + k * SLOT_WORDS

class RwLock extends Lock {
  #slots = [] // the slots this object took for this thread's read locks

  static get byteLength () { return RWLOCK_BYTES }
  /** How many threads may hold read locks at once; more wait for a slot. */
  static get maxReaders () { return RW_SLOTS }

  static init (segment, offset) {
    const placed = place(segment, offset, RWLOCK_BYTES, 'RwLock')
    writeHeader(placed.view, RWLOCK_MAGIC, RWLOCK_BYTES, (i) => Atomics.store(i, W_SLOTS, RW_SLOTS))
    return new RwLock(kConstruct, placed)
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
    return new RwLock(kConstruct, placed)
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
      wake(placeOf(this), W_DRAIN, INT32_MAX)
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
      if (who !== 'mine' && checkDead && ownerGone(i, s, W_OWNER, 'RwLock')) {
        // A dead writer: free the word and wake everyone; the data may be half-written, and
        // whoever gets the lock next, reader or writer, hears so (W_DIRTY, set first).
        Atomics.store(i, W_DIRTY, 1)
        if (Atomics.compareExchange(i, W_STATE, s, 0) === s) {
          clearRecord(i, W_OWNER)
          Atomics.store(i, W_WRITE_HELD, 0)
          Atomics.add(i, W_RECOVERIES, 1)
          wake(placeOf(this), W_STATE, INT32_MAX)
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

  // The read lock's acquire loop, for drive() or driveAsync(): 'ok' | 'recovered' |
  // 'timed-out'. blocking: this thread sleeps, so its own write lock would never be released.
  * #reading (i, deadline, blocking) {
    let recovered = false
    let checkDead = false
    for (;;) {
      const t = this.#tryRead(i, checkDead)
      if (t.recovered) recovered = true
      if (t.done) return recovered ? 'recovered' : this.#readHeld(i)
      if (t.retry) continue
      if (t.mine && blocking && deadline === Infinity) throw deadlock('RwLock (as writer)')
      if (remaining(deadline) === 0) {
        if (t.counted) Atomics.sub(i, W_DRAIN_WAITERS, 1)
        return 'timed-out'
      }
      let r
      try {
        r = yield sleepOn(t.word, t.value, deadline)
      } finally {
        if (t.counted && placeOf(this).view.length !== 0) Atomics.sub(i, W_DRAIN_WAITERS, 1)
      }
      checkDead = r === TIMED_OUT
    }
  }

  // A read lock taken: 'recovered' while no writer has held the lock since a dead one's.
  #readHeld (i) {
    return Atomics.load(i, W_DIRTY) === 1 ? 'recovered' : 'ok'
  }

  /** Takes a read lock (blocking): true | 'recovered' (a writer died) | false (timed out). */
  readLock (options) {
    // The options first: a getter among them may close the segment.
    const deadline = deadlineOf(waiting.syncOptions(options))
    const i = wordsOf(placeOf(this))
    if (typeof this.#readStep(i) === 'number') return acquired(this.#readHeld(i))
    return acquired(drive(placeOf(this), this.#reading(i, deadline, true)))
  }

  /** A read lock if one can be had now: true | 'recovered' | false. */
  tryReadLock () {
    const i = wordsOf(placeOf(this))
    let recovered = false
    for (let n = 0; n < 4; n++) {
      const t = this.#tryRead(i, true)
      if (t.counted) Atomics.sub(i, W_DRAIN_WAITERS, 1)
      if (t.recovered) recovered = true
      if (t.done) return recovered ? 'recovered' : acquired(this.#readHeld(i))
      if (!t.retry) return false
    }
    return false
  }

  /** A read lock while the event loop runs: true | 'recovered' | false (timed out). */
  async readLockAsync (options) {
    // The options (and the signal's getter) first: a getter may close the segment, and the
    // words are checked (ERR_SHMEM_CLOSED) after it ran, never used detached.
    const { timeout, signal } = waiting.asyncOptions(options)
    if (signal !== undefined && signal.aborted) throw waiting.abortError(signal)
    const i = wordsOf(placeOf(this))
    if (typeof this.#readStep(i) === 'number') return acquired(this.#readHeld(i))
    return acquired(await driveAsync(placeOf(this), this.#reading(i, deadlineOf(timeout), false), signal))
  }

  // Gives the writer word back, if this thread still has it (a drain that gave up).
  #releaseWriter (i) {
    const s = Atomics.load(i, W_STATE)
    if ((s & TID_MASK) !== TID || !recordIsMine(i, W_OWNER)) return
    Atomics.store(i, W_WRITE_HELD, 0)
    releaseOwner(placeOf(this), W_STATE, W_OWNER, true)
  }

  // The writer holds the word; wait until no reader holds a slot. 'ok', or 'timed-out' (the
  // word is released again), or throws. blocking: as in #reading, for this thread's read locks.
  * #draining (i, deadline, blocking) {
    let checkDead = false
    for (;;) {
      const seq = Atomics.load(i, W_DRAIN)
      if (!this.#anyReader(i)) return 'ok'
      if (checkDead && this.#reapReaders(i)) continue
      if (blocking && deadline === Infinity && this.#readByMe(i)) {
        this.#releaseWriter(i)
        throw deadlock('RwLock (as reader)')
      }
      if (remaining(deadline) === 0) {
        this.#releaseWriter(i)
        return 'timed-out'
      }
      let r
      try {
        r = yield sleepOn(W_DRAIN, seq, deadline)
      } catch (err) {
        if (placeOf(this).view.length !== 0) this.#releaseWriter(i)
        throw err
      }
      checkDead = r === TIMED_OUT
    }
  }

  // The write lock's acquire loop, for drive() or driveAsync(). owned: this thread has taken
  // the free writer word already, and waits only for the readers to leave.
  * #writing (i, deadline, blocking, owned) {
    let result = 'ok'
    if (!owned) {
      result = yield * ownWord(placeOf(this), deadline, blocking)
      if (result === 'timed-out') return result
      Atomics.store(i, W_WRITE_HELD, 0) // taken over from a dead writer: not held until drained
    }
    const d = yield * this.#draining(i, deadline, blocking)
    if (d !== 'ok') return d
    return this.#held(i, result)
  }

  // The writer has waited out the readers: the lock is held now. A reader that freed a dead
  // writer's word since the last writer (W_DIRTY) makes this 'recovered' too.
  #held (i, result) {
    Atomics.store(i, W_WRITE_HELD, 1)
    return Atomics.exchange(i, W_DIRTY, 0) === 1 ? 'recovered' : result
  }

  // The uncontended write lock: the free writer word taken and no reader in: the result
  // ('ok' or 'recovered'). Else true when the word was taken (the readers are to be waited
  // out), false when another writer has it.
  #takeWriter (i) {
    if (!takeFree(i)) return false
    Atomics.store(i, W_WRITE_HELD, 0)
    return this.#anyReader(i) || this.#held(i, 'ok')
  }

  /** Takes the write lock (blocking): true | 'recovered' (a writer died) | false (timed out). */
  writeLock (options) {
    // The options first: a getter among them may close the segment.
    const deadline = deadlineOf(waiting.syncOptions(options))
    const i = wordsOf(placeOf(this))
    const taken = this.#takeWriter(i)
    if (typeof taken === 'string') return acquired(taken)
    return acquired(drive(placeOf(this), this.#writing(i, deadline, true, taken)))
  }

  /** The write lock if it can be had now: true | 'recovered' | false. */
  tryWriteLock () {
    const i = wordsOf(placeOf(this))
    const s = Atomics.load(i, W_STATE)
    let result
    if (s === 0 && takeFree(i)) {
      result = 'ok'
    } else {
      result = tryRecover(i, s, 'RwLock')
      if (result === null) return false
    }
    Atomics.store(i, W_WRITE_HELD, 0)
    if (this.#anyReader(i)) this.#reapReaders(i)
    if (this.#anyReader(i)) {
      this.#releaseWriter(i)
      return false
    }
    return acquired(this.#held(i, result))
  }

  /** The write lock while the event loop runs: true | 'recovered' | false (timed out). */
  async writeLockAsync (options) {
    // The options (and the signal's getter) first: a getter may close the segment, and the
    // words are checked (ERR_SHMEM_CLOSED) after it ran, never used detached.
    const { timeout, signal } = waiting.asyncOptions(options)
    if (signal !== undefined && signal.aborted) throw waiting.abortError(signal)
    const i = wordsOf(placeOf(this))
    const deadline = deadlineOf(timeout)
    const taken = this.#takeWriter(i)
    if (typeof taken === 'string') return acquired(taken)
    return acquired(await driveAsync(placeOf(this), this.#writing(i, deadline, false, taken), signal))
  }

  /** Releases this thread's write lock, or else one of its read locks. */
  unlock () {
    const i = wordsOf(placeOf(this))
    const s = Atomics.load(i, W_STATE)
    // The write lock only once it is held: a writer of this thread still waiting for readers
    // to leave has the word, but not the lock, and a read lock of this thread is released.
    if (s !== 0 && (s & TID_MASK) === TID && recordIsMine(i, W_OWNER) &&
        Atomics.load(i, W_WRITE_HELD) === 1) {
      Atomics.store(i, W_WRITE_HELD, 0)
      releaseOwner(placeOf(this), W_STATE, W_OWNER, true)
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

  /** readLockAsync(), then fn(result), then unlock() (also when fn throws); fn's value. */
  withReadLock (fn, options) {
    return runAsync(holding(fn, () => this.readLockAsync(options), () => this.unlock(), 'RwLock'))
  }

  /** writeLockAsync(), then fn(result), then unlock() (also when fn throws); fn's value. */
  withWriteLock (fn, options) {
    return runAsync(holding(fn, () => this.writeLockAsync(options), () => this.unlock(), 'RwLock'))
  }

  /** Read locks held now, in every process. */
  get readers () {
    const i = wordsOf(placeOf(this))
    let n = 0
    for (let k = 0; k < RW_SLOTS; k++) if (Atomics.load(i, slotAt(k)) !== 0) n++
    return n
  }

  /** True while a writer holds (or waits for readers to leave) the lock. */
  get writeLocked () { return Atomics.load(wordsOf(placeOf(this)), W_STATE) !== 0 }
  get recoveries () { return Atomics.load(wordsOf(placeOf(this)), W_RECOVERIES) >>> 0 }
}

guardGetters(RwLock, isLock)

module.exports = { RwLock, RWLOCK_BYTES }
