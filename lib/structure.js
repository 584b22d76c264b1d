'use strict'
// What every structure that lives in a segment shares on its way in (Channel, SharedMap):
// making a named object sized for it, opening a named one that another process may still be
// creating, and checking where one is placed inside a caller's segment. Each structure passes
// construct(segment, offset, byteLength, init, options, ownsSegment), which makes it over
// the memory, and `what` ('channel', 'map'), which the errors name.

const { performance } = require('perf_hooks')
const { isSegment } = require('./segment')
const open = require('./open')
const { makeError, invalidArgType } = require('./errors')
const { validateObject, validateInteger, validateMode } = require('./validate')

// open() waits this long at most for a structure another process is creating
// (SHMEM_OPEN_WAIT_MS, or the older SHMEM_CHANNEL_OPEN_WAIT_MS; 0 to 60000).
const OPEN_WAIT_MS = openWaitMs(process.env.SHMEM_OPEN_WAIT_MS ?? process.env.SHMEM_CHANNEL_OPEN_WAIT_MS)
function openWaitMs (text) {
  const n = text === undefined || text.trim() === '' ? 100 : Number(text)
  return Number.isFinite(n) && n >= 0 && n <= 60000 ? n : 100
}
const napInt32 = new Int32Array(new SharedArrayBuffer(4)) // Atomics.wait() on it: a sleep

// True when the segment's first word (the magic, which init stores last) is still 0.
function noMagic (segment) {
  if (segment.size < 4) return true
  const first = segment.view(Buffer, 0, 4)
  return first[0] === 0 && first[1] === 0 && first[2] === 0 && first[3] === 0
}

/**
 * A new POSIX object `name` of `length` bytes with the structure made in it; options.mode and
 * options.autoUnlink are the object's. The object goes again when the structure cannot be made.
 */
function createNamed (construct, name, length, checked, options) {
  const raw = validateObject(options, 'options')
  const createOptions = { mode: validateMode(raw.mode, 'options.mode') }
  if (raw.autoUnlink !== undefined) createOptions.autoUnlink = raw.autoUnlink
  const segment = open.create(name, length, createOptions)
  try {
    return construct(segment, 0, length, true, checked, true)
  } catch (err) {
    segment.close()
    try { segment.unlink() } catch {}
    throw err
  }
}

/** The structure in the POSIX object `name`, made by another process (which may be at it now). */
function openNamed (construct, name, what) {
  // Another process may be creating it right now: its object exists but is still empty
  // (shm_open done, ftruncate not yet), or its header has no magic yet (written last). Either
  // looks the same as a name that holds none, so look again, once a millisecond, for up to
  // OPEN_WAIT_MS before reporting what was found (as shmem.openOrCreate() waits for an
  // object another process is sizing).
  const until = performance.now() + OPEN_WAIT_MS
  for (;;) {
    let segment = null
    try {
      segment = open.open(name)
      const made = construct(segment, 0, segment.size, false, null, true)
      segment = null // the structure's now
      return made
    } catch (err) {
      // A whole-object open at offset 0 is out of range only when the object is empty.
      const empty = segment === null && err.code === 'ERR_OUT_OF_RANGE'
      const young = empty || (segment !== null && noMagic(segment))
      if (!young || performance.now() >= until) {
        if (!empty) throw err
        throw makeError('ERR_SHMEM_BAD_STATE', `The object '${name}'`, `it is empty: it holds ` +
          `no ${what} (none was created in it, or its creator never sized it)`)
      }
    } finally {
      if (segment !== null) segment.close()
    }
    Atomics.wait(napInt32, 0, 0, 1)
  }
}

/** The checked offset of a structure inside segment (init, attach). */
function placeIn (segment, offset) {
  if (!isSegment(segment)) throw invalidArgType('segment', 'an instance of Segment', segment)
  return validateInteger(offset, 'offset', 0, segment.size)
}

module.exports = { createNamed, openNamed, placeIn }
