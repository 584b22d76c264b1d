'use strict'
// A Segment's file locks: flock(2) on the Segment's own open file description. One FileLock
// per Segment that uses them, held in the Segment's private #fileLocks and never handed out,
// so its state stays as private as the Segment's own fields.

const { isMainThread } = require('worker_threads')
const binding = require('./binding')
const { makeError, invalidArgValue, closedError, unsupported } = require('./errors')
const waiting = require('./waiting')

// The file locks this thread holds or waits for, by file ('dev:ino' -> Set of FileLocks), so
// that a lock() that could only ever be released by this very thread fails instead of
// freezing it.
const heldFileLocks = new Map()

// Compared, never used as a key: a key would convert the value (a Proxy, a typed array, an
// object without toString) to a string first, and inherited names ('toString') would match.
function lockModeOf (mode) {
  if (mode === 'shared') return 1
  if (mode === 'exclusive') return 2
  throw invalidArgValue('mode', mode, "must be 'shared' or 'exclusive'")
}

class FileLock {
  #handle
  #hasFd
  #where // how errors name the segment: "'/name'" or '(System V key 1, id 2)'
  #mode = null // null | 'shared' | 'exclusive'
  #fileKey = null
  #pending = false
  #pendingMode = null // the mode a pending lockAsync() asks for
  #isClosed

  /**
   * handle: the Segment's native handle; hasFd: false for System V; where: how errors name
   * the segment; isClosed: () => whether the Segment is closed (read from its private state,
   * not from a property a caller could redefine).
   */
  constructor (handle, hasFd, where, isClosed) {
    this.#handle = handle
    this.#hasFd = hasFd
    this.#where = where
    this.#isClosed = isClosed
  }

  /** 'shared' | 'exclusive' while held, else null. */
  get mode () { return this.#mode }

  #check () {
    if (this.#isClosed()) throw closedError(this.#where)
  }

  #lockable (mode) {
    this.#check()
    const m = lockModeOf(mode)
    if (!this.#hasFd) {
      throw unsupported('File locks need a file descriptor: System V segments have none ' +
        '(place a shmem.Mutex or RwLock inside the segment instead)')
    }
    if (this.#pending) throw makeError('ERR_SHMEM_LOCK_PENDING', `the segment ${this.#where}`)
    // flock(2) converts a held lock by dropping it and then asking anew, and a failed
    // non-blocking ask leaves nothing held. Say so in the state rather than pretend: the old
    // lock is released first, and the Segment holds the new one or none.
    if (this.#mode !== null && this.#mode !== mode) {
      binding.flockRelease(this.#handle)
      this.forget()
    }
    return m
  }

  #fileIdentity () {
    if (this.#fileKey === null) {
      const s = binding.stat(this.#handle)
      this.#fileKey = `${s.dev}:${s.ino}`
    }
    return this.#fileKey
  }

  // heldFileLocks holds the FileLocks of this thread that hold a file lock or wait for one.
  #enterRegistry () {
    const key = this.#fileIdentity()
    let set = heldFileLocks.get(key)
    if (set === undefined) heldFileLocks.set(key, (set = new Set()))
    set.add(this)
  }

  #leaveRegistryIfIdle () {
    if (this.#mode !== null || this.#pendingMode !== null || this.#fileKey === null) return
    const set = heldFileLocks.get(this.#fileKey)
    if (set !== undefined) {
      set.delete(this)
      if (set.size === 0) heldFileLocks.delete(this.#fileKey)
    }
  }

  #took (mode) {
    this.#mode = mode
    this.#enterRegistry()
  }

  /** Forgets the lock held (the Segment is closing, or flock(2) dropped it). */
  forget () {
    if (this.#mode === null) return
    this.#mode = null
    this.#leaveRegistryIfIdle()
  }

  // Another Segment of this thread holds, or is about to take (its lockAsync() thread may
  // have it already), a lock on the same file that excludes `mode`.
  #heldHereAgainst (mode) {
    const set = heldFileLocks.get(this.#fileIdentity())
    if (set === undefined) return null
    for (const other of set) {
      const theirs = other.#mode || other.#pendingMode
      if (other !== this && theirs !== null && (mode === 'exclusive' || theirs === 'exclusive')) {
        return other
      }
    }
    return null
  }

  /** Segment.prototype.lock: true, or false when the timeout passed. */
  lock (mode, options) {
    const m = this.#lockable(mode)
    const timeout = waiting.syncOptions(options)
    if (timeout === Infinity && this.#heldHereAgainst(mode) !== null) {
      throw makeError('ERR_SHMEM_WOULD_DEADLOCK',
        `Another Segment of ${this.#where} in this thread holds a lock that excludes '${mode}'`,
        'use lockAsync(), tryLock() or a timeout')
    }
    if (timeout === Infinity && isMainThread) {
      // In flock(2) itself: woken by the kernel the moment the lock is free.
      binding.flockWait(this.#handle, m, Infinity)
    } else {
      // Polled in slices that return to JS, so that worker.terminate() can end a worker
      // that waits here (a thread inside a system call cannot be stopped).
      const deadline = waiting.deadlineOf(timeout)
      for (;;) {
        const left = waiting.remaining(deadline)
        if (binding.flockWait(this.#handle, m, Math.min(left, waiting.SLICE_MS))) break
        if (left <= waiting.SLICE_MS) return false
      }
    }
    this.#took(mode)
    return true
  }

  /** Segment.prototype.tryLock. */
  tryLock (mode) {
    const m = this.#lockable(mode)
    if (!binding.flockTry(this.#handle, m)) return false
    this.#took(mode)
    return true
  }

  /** Segment.prototype.lockAsync: a promise of true, or false when the timeout passed. */
  lockAsync (mode, options) {
    let m, timeout, signal
    try {
      m = this.#lockable(mode);
      ({ timeout, signal } = waiting.asyncOptions(options))
    } catch (err) {
      return Promise.reject(err)
    }
    if (signal !== undefined && signal.aborted) return Promise.reject(waiting.abortError(signal))
    if (binding.flockTry(this.#handle, m)) {
      this.#took(mode)
      return Promise.resolve(true)
    }
    if (timeout === 0) return Promise.resolve(false)
    return new Promise((resolve, reject) => {
      let onAbort
      this.#pending = true
      this.#pendingMode = mode
      this.#enterRegistry()
      // The promise settles when the thread is done, so that a lock it took just as the
      // signal fired is given back by the thread itself and never dropped later by us.
      const id = binding.flockAsync(this.#handle, m, timeout, (result) => {
        this.#pending = false
        this.#pendingMode = null
        this.#leaveRegistryIfIdle()
        if (signal !== undefined) signal.removeEventListener('abort', onAbort)
        if (typeof result !== 'number') return reject(result)
        // Closed meanwhile: closing the fd released whatever the thread took.
        if (this.#isClosed()) return reject(closedError(this.#where))
        if (result === waiting.OK) {
          this.#took(mode)
          return resolve(true)
        }
        if (result === waiting.TIMED_OUT) return resolve(false)
        if (signal !== undefined && signal.aborted) return reject(waiting.abortError(signal))
        reject(closedError(this.#where))
      })
      if (signal !== undefined) {
        onAbort = () => binding.cancelWait(id)
        signal.addEventListener('abort', onAbort, { once: true })
      }
    })
  }

  /** Segment.prototype.unlock. */
  unlock () {
    this.#check()
    if (this.#pending) throw makeError('ERR_SHMEM_LOCK_PENDING', `the segment ${this.#where}`)
    if (this.#mode === null) {
      throw makeError('ERR_SHMEM_NOT_OWNER',
        `The segment ${this.#where} holds no file lock to unlock`)
    }
    binding.flockRelease(this.#handle)
    this.forget()
  }
}

module.exports = { FileLock }
