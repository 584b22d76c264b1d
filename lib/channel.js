'use strict'
// Channels: messages between processes through a ring in shared memory. The ring itself is
// the C core's (src/channel.c, format in docs/channel-format.md); this file gives it its JS
// shape: the Channel class, its copies out of the ring, zero-copy views and promises. Beside
// it: lib/channel-open.js (create, open, init, attach), lib/channel-options.js (argument
// checks), lib/channel-wait.js (the blocking waits), lib/channel-pending.js (the pending
// async calls) and lib/spsc.js (the JavaScript path on spsc rings).

const { inspect } = require('util')
const binding = require('./binding')
// The hot calls, loaded once: the binding object has many properties, and a load from it on
// every message showed in profiles.
const {
  channelSend, channelReceiveInto, channelReserve, channelCommit, channelPeek, channelRelease
} = binding
const { handleOf } = require('./segment')
const { SpscRing, pool, POOL_SIZE, isUint8Array } = require('./spsc')
const { PendingOps, READ, WRITE } = require('./channel-pending')
const factories = require('./channel-open')
const {
  KIND_NAMES, validateTimeout, validateSignal, isBytes, invalidData, bytesOf, byteLengthOf
} = require('./channel-options')
const {
  fromPool, sendNative, sendLoop, receiveSpsc, receiveNative, peekLoop
} = require('./channel-wait')
const { makeError, invalidArgType, outOfRange } = require('./errors')
const { validateObject, validateInteger, guardGetters } = require('./validate')
const { abortError } = require('./waiting')

// receiveAsync() waits this long on the calling thread before it hands the wait to a thread.
const ASYNC_WINDOW_MS = 0.05
const dispose = Symbol.dispose || Symbol.for('nodejs.dispose')
const kConstruct = Symbol('shmem.Channel')
let isChannel // (value) => whether value is a Channel; set by the class's static block

// A Channel collected without close(): stop its waiter threads and let go of its segment.
const finalizer = new FinalizationRegistry((id) => binding.channelClose(id))

function invalidState (message) {
  return makeError('ERR_INVALID_STATE', message)
}

function closedChannel () {
  return makeError('ERR_SHMEM_CLOSED', 'The channel')
}

class Channel {
  #id

  static {
    isChannel = (value) => value !== null && typeof value === 'object' && #id in value
  }
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

  /** @private Use Channel.create(), open(), init() or attach(). */
  constructor (token, segment, offset, byteLength, init, options, ownsSegment) {
    if (token !== kConstruct) {
      throw makeError('ERR_ILLEGAL_CONSTRUCTOR', 'Channel',
        'Channel.create(), Channel.open(), Channel.init() or Channel.attach()')
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
    }, byteLengthOf)
  }

  /**
   * Bytes a channel with these options needs: its header plus the ring.
   * @param {{ capacity: number, maxMessageSize?: number, kind: 'spsc'|'mpsc'|'mpmc' }} options
   */
  static byteLength (options) {
    return factories.byteLength(options)
  }

  /**
   * Makes a new POSIX segment named `name` holding an empty channel.
   * options: capacity (ring bytes, rounded up to a power of two), maxMessageSize (default: the
   * most the capacity allows), kind, mode (of the segment), autoUnlink (passed to
   * shmem.create()).
   */
  static create (name, options) {
    return factories.create(construct, name, options)
  }

  /** Opens the channel another process created with Channel.create(name). */
  static open (name) {
    return factories.open(construct, name)
  }

  /**
   * Formats byteLength bytes of segment at offset (a multiple of 64) as an empty channel.
   * The segment stays the caller's: close the channel before the segment.
   */
  static init (segment, offset, byteLength, options) {
    return factories.init(construct, segment, offset, byteLength, options)
  }

  /** Attaches to the channel at offset in segment (formatted by init() in any process). */
  static attach (segment, offset = 0) {
    return factories.attach(construct, segment, offset)
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
    if (!isBytes(data)) throw invalidData(data)
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

  /** Sends, waiting for room (blocking this thread). 'ok' or 'timed-out'. */
  sendSync (data, options) {
    options = validateObject(options, 'options')
    const timeout = validateTimeout(options, 'options')
    if (this.#ring === null && typeof data !== 'string' && isBytes(data)) {
      this.#check()
      this.#checkSize(bytesOf(data), 'data.byteLength')
      if (this.#reserved >= 0) throw invalidState('a reserve() is open: commit() or abort() it')
      return sendNative(this.#id, data, timeout)
    }
    return sendLoop(this, this.#id, data, timeout)
  }

  /** Receives one message without waiting: a Buffer of its own, or null when there is none. */
  receive () {
    if (this.#rx !== null) return this.#rx.receive()
    this.#check()
    if (this.#peeked) throw invalidState('a peek() is open: release() it first')
    // One native call copies the message straight into a pool of our own (as Buffer's own
    // pool does for allocUnsafe), and the message is a Buffer over its slice of it.
    if (POOL_SIZE - pool.offset < 1024) pool.renew()
    const message = fromPool(this, this.#id,
      channelReceiveInto(this.#id, pool.buf, pool.offset, true))
    this.#receivedNatively()
    return message
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
    if (this.#ring !== null) return receiveSpsc(this, this.#ring, this.#id, timeout)
    return receiveNative(this, this.#id, timeout)
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
      if (typeof data !== 'string' && !isBytes(data)) throw invalidData(data)
      this.#checkSize(byteLengthOf(data), 'data.byteLength')
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
    return peekLoop(this, this.#id, timeout)
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

// Makes the Channel for lib/channel-open.js, which finds its memory.
function construct (segment, offset, byteLength, init, options, ownsSegment) {
  return new Channel(kConstruct, segment, offset, byteLength, init, options, ownsSegment)
}

guardGetters(Channel, isChannel)

module.exports = { Channel }
