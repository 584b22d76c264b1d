'use strict'
// Channels: messages between processes through a ring in shared memory. The ring itself is
// the C core's (src/channel.c, format in docs/channel-format.md); this file gives it its JS
// shape: argument checks, copies out of the ring, zero-copy views, waiting and promises.

const { performance } = require('perf_hooks')
const { inspect, types } = require('util')
const { isMainThread } = require('worker_threads')
const binding = require('./binding')
// The hot calls, loaded once: the binding object has many properties, and a load from it on
// every message showed in profiles.
const {
  channelSend, channelReceiveInto, channelReceiveWait, channelSendWait, channelReserve,
  channelCommit, channelPeek, channelRelease
} = binding
const { handleOf, isSegment } = require('./segment')
const {
  SpscRing, pool, POOL_SIZE, isUint8Array, isDetached, isUnusable, bufferOf
} = require('./spsc')
const { PendingOps, READ, WRITE } = require('./channel-pending')
const open = require('./open')
const { coded, invalidArgType, invalidArgValue, outOfRange } = require('./errors')
const { validateObject, validateInteger, validateMode } = require('./validate')
const waiting = require('./waiting')
const { abortError, SLICE_MS } = waiting

const KINDS = new Map([['spsc', 1], ['mpsc', 2], ['mpmc', 3]])
const KIND_NAMES = ['', 'spsc', 'mpsc', 'mpmc']
const MAX_CAPACITY = 2 ** 30
// receiveSync() on spsc looks at the ring this many times in JavaScript before it waits in C
// (SHMEM_CHANNEL_SPIN_POLLS; each look costs some 20 to 40 ns here, so about 2 us).
const SPIN_POLLS = spinPolls(process.env.SHMEM_CHANNEL_SPIN_POLLS)
function spinPolls (text) {
  const n = text === undefined || text === '' ? 64 : Number(text)
  return Number.isInteger(n) && n >= 0 && n <= 100000 ? n : 64
}
// receiveAsync() waits this long on the calling thread before it hands the wait to a thread.
const ASYNC_WINDOW_MS = 0.05
// Channel.open() waits this long at most for a channel another process is creating
// (SHMEM_CHANNEL_OPEN_WAIT_MS, 0 to 60000).
const OPEN_WAIT_MS = openWaitMs(process.env.SHMEM_CHANNEL_OPEN_WAIT_MS)
function openWaitMs (text) {
  const n = text === undefined || text.trim() === '' ? 100 : Number(text)
  return Number.isFinite(n) && n >= 0 && n <= 60000 ? n : 100
}
const napInt32 = new Int32Array(new SharedArrayBuffer(4)) // Atomics.wait() on it: a sleep
const dispose = Symbol.dispose || Symbol.for('nodejs.dispose')
const kConstruct = Symbol('shmem.Channel')

// True when the segment's first word (a channel's magic, stored last by init) is still 0.
function noMagic (segment) {
  if (segment.size < 4) return true
  const first = segment.view(Buffer, 0, 4)
  return first[0] === 0 && first[1] === 0 && first[2] === 0 && first[3] === 0
}

// A Channel collected without close(): stop its waiter threads and let go of its segment.
const finalizer = new FinalizationRegistry((id) => binding.channelClose(id))

function invalidState (message) {
  return coded(Error, 'ERR_INVALID_STATE', `Invalid state: ${message}`)
}

function closedChannel () {
  return coded(Error, 'ERR_SHMEM_CLOSED', 'The channel is closed')
}

// { capacity, maxMessageSize, kind } checked, with the defaults the C core applies.
function validateChannelOptions (options, name = 'options') {
  options = validateObject(options, name)
  if (options.capacity === undefined) {
    throw invalidArgType(`${name}.capacity`, 'of type number', options.capacity)
  }
  const capacity = validateInteger(options.capacity, `${name}.capacity`, 1, MAX_CAPACITY)
  const maxMessageSize = options.maxMessageSize === undefined
    ? 0
    : validateInteger(options.maxMessageSize, `${name}.maxMessageSize`, 1, 2 ** 32 - 65)
  const kind = KINDS.get(options.kind)
  if (typeof options.kind !== 'string' || kind === undefined) {
    if (typeof options.kind !== 'string') {
      throw invalidArgType(`${name}.kind`, "one of 'spsc', 'mpsc' or 'mpmc'", options.kind)
    }
    throw invalidArgValue(`${name}.kind`, options.kind, "must be 'spsc', 'mpsc' or 'mpmc'")
  }
  let rounded = 64
  while (rounded < capacity) rounded *= 2
  const limit = rounded / 2 - 16
  if (maxMessageSize > limit) {
    throw outOfRange(`${name}.maxMessageSize`,
      `<= ${limit} (half the capacity, ${rounded} bytes after rounding up to a power of two, ` +
      'less 16)', maxMessageSize)
  }
  return { capacity, maxMessageSize, kind }
}

// The timeout (ms) of a wait, -1 for none (what the binding takes); the signal or undefined.
function validateTimeout (options, name) {
  const timeout = waiting.validateTimeout(options.timeout, `${name}.timeout`)
  return timeout === Infinity ? -1 : timeout
}

function validateSignal (options, name) {
  return waiting.validateSignal(options.signal, `${name}.signal`)
}

function isBytes (data) {
  return ArrayBuffer.isView(data) || data instanceof ArrayBuffer
}

// A native wait's timeout (ms, -1 none) as one call may take it: the whole of it on the main
// thread, at most SLICE_MS in a worker (see waiting.SLICE_MS); the callers loop to the deadline.
const waitSlice = isMainThread
  ? (left) => left
  : (left) => left < 0 || left > SLICE_MS ? SLICE_MS : left

// The extent of a message's bytes, read through the built-in getters (nothing the object
// defines can change it). A detached view or ArrayBuffer is refused with a code on every path:
// the JavaScript path threw an uncoded TypeError and the native one sent an empty message.
const builtin = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get
const typedByteLength = builtin(Object.getPrototypeOf(Uint8Array.prototype), 'byteLength')
const viewByteLength = builtin(DataView.prototype, 'byteLength')
const viewBuffer = builtin(DataView.prototype, 'buffer')
const arrayBufferByteLength = builtin(ArrayBuffer.prototype, 'byteLength')

function detachedError (data) {
  return invalidArgValue('data', data, 'must not be detached')
}

function outOfBoundsError (data) {
  return invalidArgValue('data', data, 'is out of the bounds of its resized ArrayBuffer')
}

function bytesOf (data) {
  let n, buffer
  if (types.isTypedArray(data)) {
    n = typedByteLength.call(data)
    buffer = bufferOf.call(data)
    if (n === 0 && isUnusable(data)) {
      throw isDetached(buffer) ? detachedError(data) : outOfBoundsError(data)
    }
  } else if (types.isDataView(data)) {
    buffer = viewBuffer.call(data)
    try {
      n = viewByteLength.call(data)
    } catch {
      throw isDetached(buffer) ? detachedError(data) : outOfBoundsError(data)
    }
  } else {
    n = arrayBufferByteLength.call(data)
    buffer = data
  }
  if (n === 0 && isDetached(buffer)) throw detachedError(data)
  return n
}

class Channel {
  #id
  #segment
  #ownsSegment
  #region
  #out = new Float64Array(new ArrayBuffer(12 * 8))
  #capacity
  #maxMessageSize
  #kind
  #closed = false
  #reserved = -1
  #reservedLength = 0
  #peeked = false
  #pending = null // the pending receiveAsync / sendAsync calls (lib/channel-pending.js)
  // spsc: the JavaScript path on the ring (lib/spsc.js). #tx (#rx) is the ring once this
  // handle has sent (received) through C once, which counts it in the header's senders
  // (receivers); null before that, on mpsc/mpmc, while a reserve() (peek()) is open, and
  // once closed. The hot calls read only these fields of the Channel: everything else they
  // need is on the ring object, whose shape never changes.
  #ring = null
  #tx = null
  #rx = null
  #txHeld = null // #tx while a reserve() is open
  #polls = SPIN_POLLS // receiveSync's looks before it waits (0 while the peer shares our CPU)

  /** @private Use Channel.create(), open(), init() or attach(). */
  constructor (token, segment, offset, byteLength, init, options, ownsSegment) {
    if (token !== kConstruct) {
      throw coded(TypeError, 'ERR_ILLEGAL_CONSTRUCTOR',
        'Channel cannot be constructed directly: use Channel.create(), Channel.open(), ' +
        'Channel.init() or Channel.attach()')
    }
    const o = options || { capacity: 0, maxMessageSize: 0, kind: 0 }
    // The waiter threads' callback holds the channel weakly, so that a channel nobody
    // references can be collected; the registry then closes its native side.
    const self = new WeakRef(this)
    this.#id = binding.channelOpen(handleOf(segment), offset, byteLength, init, o.capacity,
      o.maxMessageSize, o.kind, this.#out, (which, result) => {
        const channel = self.deref()
        if (channel !== undefined) channel.#pending.onWake(which, result)
      })
    finalizer.register(this, this.#id, this)
    this.#pending = this.#makePending()
    this.#capacity = this.#out[0]
    this.#maxMessageSize = this.#out[1]
    this.#kind = KIND_NAMES[this.#out[2]]
    this.#segment = segment
    this.#ownsSegment = ownsSegment
    try {
      this.#region = segment.view(Buffer, offset, this.#out[3])
    } catch (err) {
      finalizer.unregister(this)
      binding.channelClose(this.#id)
      throw err
    }
    if (this.#kind === 'spsc' && (this.#region.byteOffset & 3) === 0) {
      this.#ring = new SpscRing(this.#id, this.#region, this.#capacity, this.#maxMessageSize)
    }
  }

  // The pending-call queues and their attempts. Made here, not in the constructor: a closure
  // made there over `this` would share the constructor's context with the waiter threads'
  // callback, which the native side holds strongly until close(); that callback would then
  // keep the Channel alive, and an unclosed Channel would never be collected and finalized.
  #makePending () {
    return new PendingOps(this.#id, (which, op) => {
      if (which === READ) return this.receive() ?? undefined
      return this.send(op.data) ? 'ok' : undefined
    }, (data) => this.#byteLengthOf(data))
  }

  /**
   * Bytes a channel with these options needs: its header plus the ring.
   * @param {{ capacity: number, maxMessageSize?: number, kind: 'spsc'|'mpsc'|'mpmc' }} options
   */
  static byteLength (options) {
    const o = validateChannelOptions(options)
    return binding.channelByteLength(o.capacity, o.maxMessageSize, o.kind)
  }

  /**
   * Makes a new POSIX segment named `name` holding an empty channel.
   * options: capacity (ring bytes, rounded up to a power of two), maxMessageSize (default: the
   * most the capacity allows), kind, mode (of the segment), autoUnlink (passed to
   * shmem.create()).
   */
  static create (name, options) {
    const o = validateChannelOptions(options)
    const raw = validateObject(options, 'options')
    const mode = validateMode(raw.mode, 'options.mode')
    const byteLength = binding.channelByteLength(o.capacity, o.maxMessageSize, o.kind)
    const createOptions = { mode }
    if (raw.autoUnlink !== undefined) createOptions.autoUnlink = raw.autoUnlink
    const segment = open.create(name, byteLength, createOptions)
    try {
      return new Channel(kConstruct, segment, 0, byteLength, true, o, true)
    } catch (err) {
      segment.close()
      try { segment.unlink() } catch {}
      throw err
    }
  }

  /** Opens the channel another process created with Channel.create(name). */
  static open (name) {
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
        const channel = new Channel(kConstruct, segment, 0, segment.size, false, null, true)
        segment = null // the channel's now
        return channel
      } catch (err) {
        // A whole-object open at offset 0 is out of range only when the object is empty.
        const empty = segment === null && err.code === 'ERR_OUT_OF_RANGE'
        const young = empty || (segment !== null && noMagic(segment))
        if (!young || performance.now() >= until) {
          if (!empty) throw err
          throw coded(Error, 'ERR_SHMEM_BAD_STATE', `The object '${name}' is empty: it holds ` +
            'no channel (none was created in it, or its creator never sized it)')
        }
      } finally {
        if (segment !== null) segment.close()
      }
      Atomics.wait(napInt32, 0, 0, 1)
    }
  }

  /**
   * Formats byteLength bytes of segment at offset (a multiple of 64) as an empty channel.
   * The segment stays the caller's: close the channel before the segment.
   */
  static init (segment, offset, byteLength, options) {
    if (!isSegment(segment)) throw invalidArgType('segment', 'an instance of Segment', segment)
    offset = validateInteger(offset, 'offset', 0, segment.size)
    byteLength = validateInteger(byteLength, 'byteLength', 0, segment.size - offset)
    const o = validateChannelOptions(options)
    return new Channel(kConstruct, segment, offset, byteLength, true, o, false)
  }

  /** Attaches to the channel at offset in segment (formatted by init() in any process). */
  static attach (segment, offset = 0) {
    if (!isSegment(segment)) throw invalidArgType('segment', 'an instance of Segment', segment)
    offset = validateInteger(offset, 'offset', 0, segment.size)
    return new Channel(kConstruct, segment, offset, segment.size - offset, false, null, false)
  }

  get kind () { return this.#kind }
  /** Bytes in the ring (the capacity asked for, rounded up to a power of two). */
  get capacity () { return this.#capacity }
  get maxMessageSize () { return this.#maxMessageSize }
  /** The Segment the channel lives in. */
  get segment () { return this.#segment }
  get closed () { return this.#closed }

  // After a native send (receive) on a spsc ring: the JavaScript path may take over now (this
  // handle is counted as a sender or receiver), and must read the head (tail) afresh, as the
  // tail (head) moved without it: a cached counter is only valid while the own one moved less
  // than 2^32 since it was read.
  #sentNatively () {
    if (this.#ring === null) return
    this.#ring.headValid = false
    this.#tx = this.#ring
  }

  #receivedNatively () {
    if (this.#ring === null) return
    this.#ring.tailValid = false
    this.#rx = this.#ring
  }

  #check () {
    if (this.#closed) throw closedChannel()
  }

  #checkSize (n, name) {
    if (n > this.#maxMessageSize) throw outOfRange(name, `<= ${this.#maxMessageSize}`, n)
  }

  /**
   * Sends one message: true, or false when the ring has no room for it now.
   * @param {Buffer|ArrayBufferView|ArrayBuffer|string} data strings are sent as UTF-8
   */
  send (data) {
    const tx = this.#tx
    if (tx !== null && isUint8Array(data)) {
      const sent = tx.send(data)
      if (sent >= 0) return sent === 1
    }
    this.#check()
    if (typeof data === 'string') return this.#sendString(data)
    if (!isBytes(data)) {
      throw invalidArgType('data', 'of type string or an instance of Buffer, TypedArray, ' +
        'DataView or ArrayBuffer', data)
    }
    this.#checkSize(bytesOf(data), 'data.byteLength')
    if (this.#reserved >= 0) throw invalidState('a reserve() is open: commit() or abort() it')
    const sent = channelSend(this.#id, data)
    if (sent) this.#sentNatively()
    return sent
  }

  #sendString (text) {
    const n = Buffer.byteLength(text)
    this.#checkSize(n, 'Buffer.byteLength(data)')
    if (this.#reserved >= 0) throw invalidState('a reserve() is open: commit() or abort() it')
    if (this.#tx !== null) return this.#tx.sendString(text, n)
    const off = channelReserve(this.#id, n)
    if (off < 0) return false
    try {
      this.#region.write(text, off, n, 'utf8')
    } catch (err) {
      binding.channelAbort(this.#id)
      throw err
    }
    channelCommit(this.#id, n)
    this.#sentNatively()
    return true
  }

  #byteLengthOf (data) {
    return typeof data === 'string' ? Buffer.byteLength(data) : bytesOf(data)
  }

  /** Sends, waiting for room (blocking this thread). 'ok' or 'timed-out'. */
  sendSync (data, options) {
    options = validateObject(options, 'options')
    const timeout = validateTimeout(options, 'options')
    if (this.#ring === null && typeof data !== 'string' && isBytes(data)) {
      this.#check()
      this.#checkSize(bytesOf(data), 'data.byteLength')
      if (this.#reserved >= 0) throw invalidState('a reserve() is open: commit() or abort() it')
      if (isMainThread) return channelSendWait(this.#id, data, timeout) ? 'ok' : 'timed-out'
      const deadline = timeout < 0 ? -1 : performance.now() + timeout
      for (;;) {
        const left = deadline < 0 ? -1 : Math.max(0, deadline - performance.now())
        if (channelSendWait(this.#id, data, waitSlice(left))) return 'ok'
        if (left <= SLICE_MS && left >= 0) return 'timed-out'
      }
    }
    // The clock is read once the ring turned out to be full: a send with room reads none.
    let deadline = -2
    for (;;) {
      if (this.send(data)) return 'ok'
      if (deadline === -2) deadline = timeout < 0 ? -1 : performance.now() + timeout
      let left = -1
      if (deadline >= 0) {
        left = deadline - performance.now()
        if (left <= 0) return 'timed-out'
      }
      binding.channelWaitSync(this.#id, WRITE, this.#byteLengthOf(data), waitSlice(left))
    }
  }

  /** Receives one message without waiting: a Buffer of its own, or null when there is none. */
  receive () {
    if (this.#rx !== null) return this.#rx.receive()
    this.#check()
    if (this.#peeked) throw invalidState('a peek() is open: release() it first')
    // One native call copies the message straight into a pool of our own (as Buffer's own
    // pool does for allocUnsafe), and the message is a Buffer over its slice of it.
    if (POOL_SIZE - pool.offset < 1024) pool.renew()
    const message = this.#fromPool(channelReceiveInto(this.#id, pool.buf, pool.offset, true))
    this.#receivedNatively()
    return message
  }

  // What a receive into the pool returned: the message's length (a slice of the pool), -1
  // (none), or -2 - length when it did not fit in what is left of the pool.
  #fromPool (n) {
    if (n === -1) return null
    if (n >= 0) return pool.take(n)
    n = -2 - n
    if (n <= POOL_SIZE >>> 3) {
      pool.renew()
      return this.receive()
    }
    // A Buffer of its own. On mpmc another receiver may take this message first: then the
    // next one is copied instead, whatever its length, or null when there is none.
    for (;;) {
      const message = Buffer.allocUnsafeSlow(n)
      const got = channelReceiveInto(this.#id, message, 0, true)
      if (got === -1) return null
      if (got >= 0) return got === n ? message : message.subarray(0, got)
      n = -2 - got
    }
  }

  /**
   * Receives one message into target (no allocation): the bytes written, or null when there is
   * none. A target shorter than the message is a RangeError and the message stays.
   */
  receiveInto (target) {
    const rx = this.#rx
    if (rx !== null && isUint8Array(target)) {
      const n = rx.receiveInto(target)
      if (n >= 0) return n
      if (n === -1) return null
      // -2: a long message, or a target not adopted yet: the native copy, no allocation.
    }
    this.#check()
    if (!isBytes(target)) {
      throw invalidArgType('target', 'an instance of Buffer, TypedArray, DataView or ArrayBuffer',
        target)
    }
    if (this.#peeked) throw invalidState('a peek() is open: release() it first')
    const n = channelReceiveInto(this.#id, target, 0, false)
    this.#receivedNatively()
    return n < 0 ? null : n
  }

  /** Receives, waiting for a message (blocking this thread); null when the timeout passes. */
  receiveSync (options) {
    options = validateObject(options, 'options')
    const timeout = validateTimeout(options, 'options')
    this.#check()
    if (this.#peeked) throw invalidState('a peek() is open: release() it first')
    if (this.#ring !== null) {
      // spsc: receive in JavaScript, and enter C only to wait. A reply often comes within a
      // microsecond or two: look again right here a bounded number of times first (each look
      // is one load of the tail), which is cheaper than the native wait and its clock reads.
      // The clock is read once the ring turned out to be empty.
      // The looks are skipped while the native wait reports the peer on this CPU (2 CPUs:
      // then looking only keeps the peer from running).
      let message = this.receive()
      if (message !== null || timeout === 0) return message
      for (let i = this.#polls; i > 0; i--) {
        message = this.receive()
        if (message !== null) return message
      }
      let deadline = -2
      for (;;) {
        const message = this.receive()
        if (message !== null) return message
        if (deadline === -2) deadline = timeout < 0 ? -1 : performance.now() + timeout
        let left = -1
        if (deadline >= 0) {
          left = deadline - performance.now()
          if (left <= 0) return null
        }
        this.#polls = binding.channelWaitSync(this.#id, READ, 0, waitSlice(left)) === 2
          ? 0
          : SPIN_POLLS
      }
    }
    const deadline = timeout < 0 ? -1 : performance.now() + timeout
    let left = timeout
    for (;;) {
      if (POOL_SIZE - pool.offset < 1024) pool.renew()
      const n = channelReceiveWait(this.#id, pool.buf, pool.offset, waitSlice(left))
      if (n !== -1) {
        const message = this.#fromPool(n)
        if (message !== null) return message
      }
      // The wait's slice ended, or a long message another mpmc receiver took first: wait on
      // for the time left.
      if (deadline >= 0) {
        left = deadline - performance.now()
        if (left <= 0) return null
      }
    }
  }

  /** Receives, waiting off the event loop: a Promise of a Buffer, or null at the timeout. */
  receiveAsync (options) {
    try {
      options = validateObject(options, 'options')
      const timeout = validateTimeout(options, 'options')
      const signal = validateSignal(options, 'options')
      this.#check()
      if (signal && signal.aborted) return Promise.reject(abortError(signal))
      let left = timeout
      if (this.#pending.idle(READ)) {
        let message = this.receive()
        if (message !== null || timeout === 0) return Promise.resolve(message)
        // A reply often comes within microseconds: wait that long right here (spinning, then
        // a futex sleep of at most ASYNC_WINDOW_MS), which is far cheaper than the hand-off
        // to the waiter thread and back through the event loop.
        const window = timeout < 0 ? ASYNC_WINDOW_MS : Math.min(timeout, ASYNC_WINDOW_MS)
        binding.channelWaitSync(this.#id, READ, 0, window)
        message = this.receive()
        if (message !== null) return Promise.resolve(message)
        if (timeout >= 0) left = Math.max(0, timeout - window)
      }
      return this.#pending.enqueue(READ, left, signal)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Sends, waiting for room off the event loop: a Promise of 'ok' or 'timed-out'. */
  sendAsync (data, options) {
    try {
      options = validateObject(options, 'options')
      const timeout = validateTimeout(options, 'options')
      const signal = validateSignal(options, 'options')
      this.#check()
      if (typeof data !== 'string' && !isBytes(data)) {
        throw invalidArgType('data', 'of type string or an instance of Buffer, TypedArray, ' +
          'DataView or ArrayBuffer', data)
      }
      this.#checkSize(this.#byteLengthOf(data), 'data.byteLength')
      if (signal && signal.aborted) return Promise.reject(abortError(signal))
      if (this.#pending.idle(WRITE)) {
        if (this.send(data)) return Promise.resolve('ok')
        if (timeout === 0) return Promise.resolve('timed-out')
      }
      // The caller may reuse its buffer once the promise settles, not before: keep it as is.
      return this.#pending.enqueue(WRITE, timeout, signal, data)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** for await (const message of channel): ends when the channel is closed. */
  async * [Symbol.asyncIterator] () {
    while (!this.#closed) {
      let message
      try {
        message = await this.receiveAsync()
      } catch (err) {
        if (err.code === 'ERR_SHMEM_CLOSED' && this.#closed) return
        throw err
      }
      if (message !== null) yield message
    }
  }

  /**
   * Zero copy: a Buffer over n bytes of the ring to write a message into, or null when there
   * is no room now. Then commit([length]) sends it, or abort() gives it up.
   */
  reserve (n) {
    this.#check()
    n = validateInteger(n, 'n', 0, 2 ** 32 - 1)
    this.#checkSize(n, 'n')
    if (this.#reserved >= 0) throw invalidState('a reserve() is open: commit() or abort() it')
    const off = channelReserve(this.#id, n)
    if (off < 0) return null
    this.#reserved = off
    // send() must not take the JavaScript path past an open reservation: it goes native,
    // which refuses it.
    this.#txHeld = this.#tx
    this.#tx = null
    this.#reservedLength = n
    return this.#region.subarray(off, off + n)
  }

  /** Sends what reserve() gave, its first `length` bytes (default: all of them). */
  commit (length) {
    this.#check()
    if (this.#reserved < 0) throw invalidState('nothing is reserved: call reserve() first')
    length = length === undefined
      ? this.#reservedLength
      : validateInteger(length, 'length', 0, this.#reservedLength)
    this.#reserved = -1
    channelCommit(this.#id, length)
    this.#sentNatively()
  }

  /** Gives up what reserve() gave: nothing is sent. */
  abort () {
    this.#check()
    if (this.#reserved < 0) throw invalidState('nothing is reserved: call reserve() first')
    this.#reserved = -1
    binding.channelAbort(this.#id)
    this.#tx = this.#txHeld
  }

  /**
   * Zero copy: a Buffer over the next message where it lies in the ring, or null when there is
   * none. It stays the next message (and on mpmc other receivers wait) until release().
   */
  peek () {
    this.#check()
    if (this.#peeked) throw invalidState('a peek() is open: release() it first')
    const n = channelPeek(this.#id)
    if (n < 0) return null
    this.#peeked = true
    this.#rx = null // receives go native while the peek is open, which refuses them
    const off = this.#out[0]
    return this.#region.subarray(off, off + n)
  }

  /**
   * Zero copy, waiting (blocking this thread): peek() once a message is there; null when the
   * timeout passes. An addition to the API: without it a zero-copy receiver could only
   * poll.
   */
  peekSync (options) {
    options = validateObject(options, 'options')
    const timeout = validateTimeout(options, 'options')
    const deadline = timeout < 0 ? -1 : performance.now() + timeout
    for (;;) {
      const view = this.peek()
      if (view !== null) return view
      let left = -1
      if (deadline >= 0) {
        left = deadline - performance.now()
        if (left <= 0) return null
      }
      binding.channelWaitSync(this.#id, READ, 0, waitSlice(left))
    }
  }

  /** Consumes the message peek() showed; its Buffer must not be used after this. */
  release () {
    this.#check()
    if (!this.#peeked) throw invalidState('nothing is peeked: call peek() first')
    this.#peeked = false
    channelRelease(this.#id)
    this.#receivedNatively()
  }

  /** Counters from the ring's header (senders/receivers count open handles that sent/received). */
  stats () {
    this.#check()
    binding.channelStats(this.#id)
    const o = this.#out
    return {
      capacity: o[0],
      used: o[1],
      messagesSent: o[2],
      messagesReceived: o[3],
      bytesSent: o[4],
      bytesReceived: o[5],
      senders: o[6],
      receivers: o[7],
      abandoned: o[8]
    }
  }

  /**
   * Closes this process's handle: pending receiveAsync/sendAsync reject with ERR_SHMEM_CLOSED,
   * an open reservation is aborted, and a segment the channel made or opened is closed.
   * Idempotent. The name stays: shmem.unlink(name) removes it.
   */
  close () {
    if (this.#closed) return
    this.#closed = true
    this.#pending.close(closedChannel)
    finalizer.unregister(this)
    binding.channelClose(this.#id)
    this.#region = null
    if (this.#ring !== null) this.#ring.forget()
    this.#ring = this.#tx = this.#rx = this.#txHeld = null
    if (this.#ownsSegment) this.#segment.close()
  }

  [dispose] () {
    this.close()
  }

  [inspect.custom] (depth, options) {
    const fields = {
      name: this.#segment.name,
      kind: this.#kind,
      capacity: this.#capacity,
      maxMessageSize: this.#maxMessageSize,
      closed: this.#closed
    }
    return `Channel ${inspect(fields, { ...options, breakLength: Infinity })}`
  }
}

module.exports = { Channel }
