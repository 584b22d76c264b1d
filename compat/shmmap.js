'use strict'
/**
 * A drop-in replacement for the shmmap package, built on shmem:
 *
 *   const shmmap = require('shmem/compat/shmmap')   // was: require('shmmap')
 *
 * create() makes a POSIX object under a fresh key and maps it; other processes open it with
 * read() or read_write(); the creating process unlinks its keys on release() or when it ends
 * (shmem's autoUnlink: at exit, and on SIGINT, SIGTERM and SIGHUP too).
 * What differs from the original, and why, is in docs/migrating.md.
 */

const crypto = require('crypto')
const shmem = require('..')
const { invalidArgType, invalidArgValue } = require('../lib/errors')
const { validateInteger, validateName, MAX_SAFE } = require('../lib/validate')

// key -> { created, segments }: what this process made or opened, for release().
const held = new Map()
let counter = 0

function hold (key, segment, created) {
  let h = held.get(key)
  if (h === undefined) {
    h = { created: false, segments: [] }
    held.set(key, h)
  }
  if (created) h.created = true
  h.segments.push(segment)
  return segment.buffer
}

function validateKey (key) {
  if (typeof key !== 'string') throw invalidArgType('key', 'of type string', key)
  return validateName(key, 'key')
}

function validateLength (byteLength) {
  return validateInteger(byteLength, 'byteLength', 1, MAX_SAFE)
}

/**
 * Creates a shared memory segment of byteLength bytes under a new key.
 * Returns [key, buffer]: pass key to another process, which opens it with read() or
 * read_write(). The key is unlinked when this process calls release(key) or exits.
 */
function create (byteLength) {
  byteLength = validateLength(byteLength)
  for (;;) {
    const key = `/shmmap-${process.pid}-${++counter}-${crypto.randomBytes(4).toString('hex')}`
    let segment
    try {
      // The creator owns the name: it goes on release() (close), at exit or on a signal.
      segment = shmem.create(key, byteLength, { autoUnlink: true })
    } catch (err) {
      if (err.code === 'EEXIST') continue
      throw err
    }
    return [key, hold(key, segment, true)]
  }
}

function open (key, byteLength, readOnly) {
  key = validateKey(key)
  const options = { readOnly }
  if (byteLength !== undefined) options.size = validateLength(byteLength)
  return hold(key, shmem.open(key, options), false)
}

/**
 * Maps the first byteLength bytes (default: all) of an existing segment read-only.
 * More bytes than the segment has is ERR_OUT_OF_RANGE. Writing to the Buffer is SIGSEGV.
 */
function read (key, byteLength) {
  return open(key, byteLength, true)
}

/** Maps the first byteLength bytes (default: all) of an existing segment read-write. */
function read_write (key, byteLength) { // eslint-disable-line camelcase
  return open(key, byteLength, false)
}

/**
 * Releases this process's hold on key: unmaps every Buffer create(), read() and read_write()
 * gave it for key (they become detached: length 0), and unlinks the key if this process
 * created it. Other processes keep their mappings. Returns undefined.
 * (The creator's Segment is the one that owns the name, so closing it unlinks.)
 */
function release (key) {
  key = validateKey(key)
  const h = held.get(key)
  if (h === undefined) return undefined
  held.delete(key)
  // Closing the creator's own Segment unlinks the key (autoUnlink), and only if the name
  // still denotes the object it created.
  for (const segment of h.segments) segment.close()
  return undefined
}

/**
 * Flushes the segment behind buffer to its object and waits for it (msync(2) with MS_SYNC),
 * as the original's transfer() does through mmap-io. buffer: a Buffer create(), read() or
 * read_write() gave this process and release() has not let go; anything else is
 * ERR_INVALID_ARG_VALUE (the original hands it to msync, which fails or syncs memory it does
 * not own). Returns undefined.
 */
function transfer (buffer) {
  if (!Buffer.isBuffer(buffer)) throw invalidArgType('buffer', 'an instance of Buffer', buffer)
  for (const h of held.values()) {
    for (const segment of h.segments) {
      if (!segment.closed && segment.buffer === buffer) {
        segment.sync()
        return undefined
      }
    }
  }
  throw invalidArgValue('buffer', buffer, 'is not a buffer this module mapped (or it was released)')
}

module.exports = { create, read, read_write, release, transfer } // eslint-disable-line camelcase
