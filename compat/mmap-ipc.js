'use strict'
/**
 * A drop-in replacement for the mmap-ipc package, built on shmem:
 *
 *   const mmapIPC = require('shmem/compat/mmap-ipc')   // was: require('mmap-ipc')
 *
 * new mmapIPC(name, size, lockMemory) opens the POSIX object '/name', or creates it with
 * `size` bytes; an existing object is never truncated. Reader/writer locks are whole-object
 * file locks, one lock per instance. Unlike the original, garbage collection never unlinks
 * the object (other processes may still use it), and two instances of one name in one
 * process cannot freeze it: a blocking acquire that only another instance of this thread
 * could satisfy returns false at once. What differs, and why, is in docs/migrating.md.
 */

const shmem = require('..')
const { invalidArgType, closedError } = require('../lib/errors')
const { validateInteger, validateName, validateObject, MAX_SAFE } = require('../lib/validate')

function validateSize (size) {
  // The original's own example passes the size as a string of digits.
  if (typeof size === 'string' && /^[0-9]+$/.test(size)) size = Number(size)
  if (typeof size !== 'number' && typeof size !== 'bigint') {
    throw invalidArgType('size', 'of type number', size)
  }
  return validateInteger(size, 'size', 1, MAX_SAFE)
}

class mmapIPC { // eslint-disable-line camelcase
  #segment

  /**
   * Opens the POSIX object '/shm_name' or creates it with `size` bytes (mode 0o600), and maps
   * `size` bytes of it. An existing object is not truncated; one smaller than `size` is
   * ERR_OUT_OF_RANGE (the original maps past its end and faults when touched).
   * lock_memory: mlock2(MLOCK_ONFAULT) the mapping; when the system refuses, a warning is
   * emitted and the mapping stays unlocked, as in the original.
   */
  /** The original's static factory: the same as `new mmapIPC(shm_name, size, lock_memory)`. */
  static CreateNewItem (shm_name, size, lock_memory) { // eslint-disable-line camelcase
    return new mmapIPC(shm_name, size, lock_memory)
  }

  constructor (shm_name, size, lock_memory) { // eslint-disable-line camelcase
    if (typeof shm_name !== 'string') throw invalidArgType('shm_name', 'of type string', shm_name)
    const name = validateName(shm_name, 'shm_name')
    size = validateSize(size)
    if (lock_memory !== undefined && typeof lock_memory !== 'boolean') {
      throw invalidArgType('lock_memory', 'of type boolean', lock_memory)
    }
    const segment = shmem.openOrCreate(name, size)
    if (lock_memory === true) {
      try {
        segment.lockMemory({ onFault: true })
      } catch (err) {
        process.emitWarning(`mmapIPC: the memory of '${name}' could not be locked ` +
          `(${err.code}); it stays unlocked`, { code: 'SHMEM_MLOCK_FAILED' })
      }
    }
    this.#segment = segment
  }

  /** The Buffer over the mapping: the same Buffer every call. */
  buffer () {
    return this.#segment.buffer
  }

  #acquireSync (mode) {
    const segment = this.#segment
    if (segment.closed) throw closedError(`'${segment.name}'`)
    if (segment.fileLock === mode) return true
    try {
      return segment.lock(mode) === true
    } catch (err) {
      // Blocking for a lock that only another instance of this thread can give up would
      // freeze the thread for good (segment.lock() sees that and refuses): answer false at
      // once, as a failed flock(2) does in the original, keeping the lock this one holds.
      if (err.code === 'ERR_SHMEM_WOULD_DEADLOCK') return false
      // A failed system call is the original's false too; our own errors are thrown.
      if (typeof err.errno === 'number' && err.syscall) return false
      throw err
    }
  }

  async #acquireAsync (mode, options) {
    options = validateObject(options, 'options')
    const segment = this.#segment
    if (segment.closed) throw closedError(`'${segment.name}'`)
    if (segment.fileLock === mode) return true
    const lockOptions = {}
    if (options.timeout !== undefined) lockOptions.timeout = options.timeout
    if (options.signal !== undefined) lockOptions.signal = options.signal
    return (await segment.lockAsync(mode, lockOptions)) === true
  }

  /**
   * A shared (read) lock: true once held. Blocks until no other process holds the write lock.
   * Returns false at once when another instance in this thread holds the write lock.
   */
  acquireReadLock () {
    return this.#acquireSync('shared')
  }

  /**
   * The exclusive (write) lock: true once held. Blocks until no other process holds a lock.
   * A read lock this instance holds is converted. Returns false at once when another
   * instance in this thread holds any lock.
   */
  acquireWriteLock () {
    return this.#acquireSync('exclusive')
  }

  /** The README's spelling of acquireWriteLock(). */
  acquireWrireLock () {
    return this.#acquireSync('exclusive')
  }

  /**
   * acquireReadLock() without blocking the event loop: resolves true once held, false when
   * options.timeout (ms) passes first; rejects with an AbortError on options.signal. Waits for
   * other instances of this process too.
   */
  acquireReadLockAsync (options) {
    return this.#acquireAsync('shared', options)
  }

  /** acquireWriteLock() without blocking the event loop; options as acquireReadLockAsync(). */
  acquireWriteLockAsync (options) {
    return this.#acquireAsync('exclusive', options)
  }

  /** Releases the lock this instance holds, if any. True. */
  removeLock () {
    const segment = this.#segment
    if (segment.closed) throw closedError(`'${segment.name}'`)
    // Nothing held is fine, as flock(LOCK_UN) is.
    if (segment.fileLock !== null) segment.unlock()
    return true
  }

  /**
   * (shmem's addition) Releases the lock, unmaps (the Buffer becomes detached) and closes.
   * The object stays: remove it with unlink() or shmem.unlink(name). Idempotent.
   */
  close () {
    this.#segment.close()
  }

  /** (shmem's addition) shm_unlink(3) of the name; false when it was already gone. */
  unlink () {
    return this.#segment.unlink()
  }
}

module.exports = mmapIPC
module.exports.mmapIPC = mmapIPC
module.exports.default = mmapIPC
