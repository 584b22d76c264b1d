'use strict'
// Where a Channel comes from: Channel.create() and open() (a POSIX object of its own),
// init() and attach() (anywhere in a segment the caller keeps), and byteLength(). Each checks
// its arguments and finds the memory; construct(segment, offset, byteLength, init, options,
// ownsSegment) (lib/channel.js) makes the Channel over it.

const { performance } = require('perf_hooks')
const binding = require('./binding')
const { isSegment } = require('./segment')
const open = require('./open')
const { makeError, invalidArgType } = require('./errors')
const { validateObject, validateInteger, validateMode } = require('./validate')
const { validateChannelOptions } = require('./channel-options')

// Channel.open() waits this long at most for a channel another process is creating
// (SHMEM_CHANNEL_OPEN_WAIT_MS, 0 to 60000).
const OPEN_WAIT_MS = openWaitMs(process.env.SHMEM_CHANNEL_OPEN_WAIT_MS)
function openWaitMs (text) {
  const n = text === undefined || text.trim() === '' ? 100 : Number(text)
  return Number.isFinite(n) && n >= 0 && n <= 60000 ? n : 100
}
const napInt32 = new Int32Array(new SharedArrayBuffer(4)) // Atomics.wait() on it: a sleep

// True when the segment's first word (a channel's magic, stored last by init) is still 0.
function noMagic (segment) {
  if (segment.size < 4) return true
  const first = segment.view(Buffer, 0, 4)
  return first[0] === 0 && first[1] === 0 && first[2] === 0 && first[3] === 0
}

/** Channel.byteLength(options). */
function byteLength (options) {
  const o = validateChannelOptions(options)
  return binding.channelByteLength(o.capacity, o.maxMessageSize, o.kind)
}

/** Channel.create(name, options). */
function create (construct, name, options) {
  const o = validateChannelOptions(options)
  const raw = validateObject(options, 'options')
  const mode = validateMode(raw.mode, 'options.mode')
  const length = binding.channelByteLength(o.capacity, o.maxMessageSize, o.kind)
  const createOptions = { mode }
  if (raw.autoUnlink !== undefined) createOptions.autoUnlink = raw.autoUnlink
  const segment = open.create(name, length, createOptions)
  try {
    return construct(segment, 0, length, true, o, true)
  } catch (err) {
    segment.close()
    try { segment.unlink() } catch {}
    throw err
  }
}

/** Channel.open(name). */
function openChannel (construct, name) {
  // Another process may be creating this channel right now: its object exists but is still
  // empty (shm_open done, ftruncate not yet), or its header has no magic yet (written
  // last). Either looks the same as a name that holds no channel, so open looks again, once
  // a millisecond, for up to OPEN_WAIT_MS before it reports what it found (as
  // shmem.openOrCreate() waits for an object another process is sizing).
  const until = performance.now() + OPEN_WAIT_MS
  for (;;) {
    let segment = null
    try {
      segment = open.open(name)
      const channel = construct(segment, 0, segment.size, false, null, true)
      segment = null // the channel's now
      return channel
    } catch (err) {
      // A whole-object open at offset 0 is out of range only when the object is empty.
      const empty = segment === null && err.code === 'ERR_OUT_OF_RANGE'
      const young = empty || (segment !== null && noMagic(segment))
      if (!young || performance.now() >= until) {
        if (!empty) throw err
        throw makeError('ERR_SHMEM_BAD_STATE', `The object '${name}'`, 'it is empty: it holds ' +
          'no channel (none was created in it, or its creator never sized it)')
      }
    } finally {
      if (segment !== null) segment.close()
    }
    Atomics.wait(napInt32, 0, 0, 1)
  }
}

/** Channel.init(segment, offset, byteLength, options). */
function init (construct, segment, offset, length, options) {
  if (!isSegment(segment)) throw invalidArgType('segment', 'an instance of Segment', segment)
  offset = validateInteger(offset, 'offset', 0, segment.size)
  length = validateInteger(length, 'byteLength', 0, segment.size - offset)
  const o = validateChannelOptions(options)
  return construct(segment, offset, length, true, o, false)
}

/** Channel.attach(segment, offset). */
function attach (construct, segment, offset) {
  if (!isSegment(segment)) throw invalidArgType('segment', 'an instance of Segment', segment)
  offset = validateInteger(offset, 'offset', 0, segment.size)
  return construct(segment, offset, segment.size - offset, false, null, false)
}

module.exports = { byteLength, create, open: openChannel, init, attach }
