'use strict'
// The spsc fast path: send and receive on a single-producer, single-consumer channel in
// JavaScript, straight on the ring's bytes, with no native call per message.
//
// Why: a Node-API call costs 100 to 160 ns on this machine kind, and a channel message used to
// need one on each side; at 64 B that capped a channel at under 3 M messages a second, short of
// the 5 M goal. Here a send is a copy into the ring plus one Atomics.store of the tail, and a
// receive one copy out plus one Atomics.store of the head. C is entered only to wake a peer
// that sleeps (its waiters word is up) and to wait.
//
// The protocol and the checks are those of src/channel.c (docs/channel-format.md, "spsc send"
// and "receive"): a record is complete before the tail that publishes it moves; a value read
// from the shared memory is checked before it addresses anything, and garbage throws
// ERR_SHMEM_BAD_STATE. The two implementations share one ring: a Channel also uses the C
// path on the same ring (waits, zero copy, sends of other TypedArrays), and C code in
// another process may be the peer. Each caches the peer's counter, which is only safe while
// the own counter moved less than 2^32 since: lib/channel.js drops this cache after every
// native send or receive, and the binding drops C's before every native call on spsc.
//
// mpsc and mpmc stay in C: they need the robust locks and the reserved-record protocol.

const os = require('os')
const binding = require('./binding')
const { makeError, outOfRange } = require('./errors')

// The layout is the C core's, read from the binding once here (no offset, state or size is
// typed in JavaScript): these module constants are what the hot paths use, as literals.
const layout = binding.channelLayout
// Header words (Int32Array indices: byte offset / 4).
const TAIL = layout.header.TAIL >>> 2
const MESSAGES_SENT = layout.header.MESSAGES_SENT >>> 2
const BYTES_SENT = layout.header.BYTES_SENT >>> 2
const HEAD = layout.header.HEAD >>> 2
const MESSAGES_RECEIVED = layout.header.MESSAGES_RECEIVED >>> 2
const BYTES_RECEIVED = layout.header.BYTES_RECEIVED >>> 2
const DATA_WAITERS = layout.header.DATA_WAITERS >>> 2
const SPACE_WAITERS = layout.header.SPACE_WAITERS >>> 2
const RING = layout.headerSize // the ring's byte offset in the region
const HDR = layout.recordHeader // record header bytes
const ALIGN = layout.align - 1 // records start on multiples of layout.align (a power of two)
// A record header's words (offsets from the record's first word).
const STATE = layout.record.STATE >>> 2
const LENGTH = layout.record.LENGTH >>> 2
const PID = layout.record.PID >>> 2
const START = layout.record.START >>> 2

// The waiters word is read right after the Atomics.store that publishes: a sleeper sets it,
// then checks the ring again, so one of the two sides must see the other's store (the
// sleeping protocol of docs/channel-format.md). On x64 and ia32 V8's Atomics.store is an
// xchg, a full barrier, so a plain load after it is ordered. Elsewhere (arm64: stlr, which
// does not order later loads) it takes an Atomics.load (ldar).
const STORE_IS_FENCE = process.arch === 'x64' || process.arch === 'ia32'

const COMMITTED = layout.states.COMMITTED
const SKIP = layout.states.SKIP
const ABORTED = layout.states.ABORTED

// Messages up to this long are copied word by word in JavaScript; longer ones with set() or
// the native copy, which win once the copy itself dominates.
const JS_COPY_MAX = 256
const WAKE_READERS = layout.notify.READERS // channelWake(id, which)
const WAKE_WRITERS = layout.notify.WRITERS

// receiveSync() on spsc looks at the ring this many times in JavaScript before it waits in C
// (SHMEM_CHANNEL_SPIN_POLLS; each look costs some 20 to 40 ns here, so about 2 us).
const SPIN_POLLS = spinPolls(process.env.SHMEM_CHANNEL_SPIN_POLLS)
function spinPolls (text) {
  const n = text === undefined || text === '' ? 64 : Number(text)
  return Number.isInteger(n) && n >= 0 && n <= 100000 ? n : 64
}

// receive() copies messages into slices of a pool, as Buffer.allocUnsafe() does; the C path
// (lib/channel.js) fills the same pool.
const POOL_SIZE = 64 * 1024
const pool = {
  buf: null,
  words: null, // an Int32Array over buf, for the word copy
  offset: POOL_SIZE, // no pool yet: the first receive makes one
  renew () {
    this.buf = Buffer.allocUnsafeSlow(POOL_SIZE)
    this.words = new Int32Array(this.buf.buffer, this.buf.byteOffset, POOL_SIZE >>> 2)
    this.offset = 0
  },
  /** The n bytes at the pool's offset as a Buffer of their own; moves the offset past them. */
  take (n) {
    const message = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.offset, n)
    this.offset = (this.offset + n + 7) & ~7
    return message
  }
}

// The Segment under the channel was closed: close() detached every view over it.
function segmentClosed () {
  return makeError('ERR_SHMEM_CLOSED', "The channel's segment")
}

function targetTooShort (n, have) {
  return outOfRange('target.byteLength', `>= ${n} (the next message's length)`, have)
}

function badState (detail) {
  return makeError('ERR_SHMEM_BAD_STATE', "The channel's shared state",
    `it was never initialized, or another process overwrote it (${detail})`)
}

// Adds n (< 2^32) to the u64 counter at words i and i + 1, in the host's byte order like every
// header field (LO is the low word's index). Only this side writes it; readers in other
// processes may see the two halves torn, which stats() accepts (a hint).
const LO = os.endianness() === 'LE' ? 0 : 1
const HI = 1 - LO
function add64 (w, i, n) {
  const lo = (w[i + LO] >>> 0) + n
  if (lo > 0xffffffff) {
    w[i + LO] = lo - 0x100000000
    w[i + HI] = (w[i + HI] + 1) | 0
  } else {
    w[i + LO] = lo
  }
}

// A view's kind and real extent, read through the built-in TypedArray getters: nothing the
// object itself defines (an own `length`, a subclass's getter, a Proxy's trap) can make a copy
// run past the view.
const TypedArrayProto = Object.getPrototypeOf(Uint8Array.prototype)
const getter = (name) => Object.getOwnPropertyDescriptor(TypedArrayProto, name).get
const kindOf = getter(Symbol.toStringTag) // 'Uint8Array', ...; undefined for anything else
const lengthOf = getter('length')
const offsetOf = getter('byteOffset')
const bufferOf = getter('buffer')

/** True for a detached ArrayBuffer: only one of those refuses even an empty view. */
function isDetached (buffer) {
  try {
    return new Uint8Array(buffer, 0, 0) === null
  } catch {
    return true
  }
}

// A TypedArray of length 0 may be empty, detached, or out of the bounds of a resizable
// ArrayBuffer that shrank under it (then its length reads 0 too): only the last two fail
// the built-in check every TypedArray method makes first.
const atOf = TypedArrayProto.at
function isUnusable (view) {
  try {
    atOf.call(view, 0)
    return false
  } catch {
    return true
  }
}

/** True for a Uint8Array (a Buffer too): what the fast paths copy from and into. */
function isUint8Array (x) {
  return kindOf.call(x) === 'Uint8Array'
}

// An Int32Array over a view for the word copy, or null: a view not on a 4-byte boundary cannot
// have one, and one of length 0 (a detached one too) needs none.
function wordsOver (view) {
  const offset = offsetOf.call(view)
  const length = lengthOf.call(view)
  if ((offset & 3) !== 0 || length === 0) return null
  return new Int32Array(bufferOf.call(view), offset, length >>> 2)
}

// Whether a sleeper waits on the waiters word at index i, read right after the Atomics.store
// that published (see STORE_IS_FENCE).
function waiting (w, i) {
  return (STORE_IS_FENCE ? w[i] : Atomics.load(w, i)) !== 0
}

// Copies words Int32 words from src[s] to dst[d], four at a time (measured: a plain loop is
// about half as fast on 16 words).
function copyWords (src, s, dst, d, words) {
  let k = 0
  for (; k + 4 <= words; k += 4) {
    dst[d + k] = src[s + k]
    dst[d + k + 1] = src[s + k + 1]
    dst[d + k + 2] = src[s + k + 2]
    dst[d + k + 3] = src[s + k + 3]
  }
  for (; k < words; k++) dst[d + k] = src[s + k]
}

class SpscRing {
  /**
   * region: a Uint8Array over the channel's bytes (header + ring), 4-byte aligned; capacity and
   * maxMessageSize as attach validated them (the process's own copy, never re-read).
   */
  constructor (id, region, capacity, maxMessageSize) {
    this.id = id // the native handle, for wakes
    this.u8 = region
    this.w = new Int32Array(region.buffer, region.byteOffset, region.byteLength >>> 2)
    this.capacity = capacity
    this.mask = capacity - 1
    this.max = maxMessageSize
    // The peer's counter as last read: it only moves forward, so an old value understates
    // the room (sender) or the messages (receiver), and is read again when that matters.
    // Invalid until first read: a counter from nowhere could overstate.
    this.head = 0
    this.tail = 0
    this.headValid = false
    this.tailValid = false
    // Set by room(): where the record goes. Set by next(): the record at the head.
    this.pos = 0
    this.span = 0
    this.at = 0
    this.moved = false
    // receiveSync's looks before it waits (0 while the peer shares our CPU): lib/channel-wait.js.
    this.polls = SPIN_POLLS
    // The word copy needs an Int32Array over the caller's Buffer. It is made the second time
    // in a row the same (4-byte aligned) Buffer comes, so one used once costs no allocation,
    // and kept until another has come twice. Every field is set here, with its final type,
    // so that the object's shape never changes (the hot paths read it on every message).
    this.source = null
    this.sourceWords = null
    this.sourceSeen = null
    this.target = null
    this.targetWords = null
    this.targetSeen = null
  }

  // ---- the Channel's calls: each returns what the Channel returns, or a code that sends it
  // down the native path (which also gives every error its message) ----

  /** send(data) for a Uint8Array: 1 sent, 0 no room, -1 the native path. */
  send (data) {
    const n = lengthOf.call(data) // its byteLength, which is far slower to read
    // Oversize, or detached: the Channel's checks give the error.
    if (n > this.max || (n === 0 && isUnusable(data))) return -1
    const at = this.room(n)
    if (at < 0) return 0
    if (data !== this.source) this.#adoptSource(data)
    // A fixed-length view over a resizable buffer that shrank has no words: then set().
    if (n <= JS_COPY_MAX && data === this.source && (n >>> 2) <= this.sourceWords.length) {
      this.copyFrom(n, data, this.sourceWords, at)
    } else {
      // Exactly the n bytes reserved: a length-tracking view over a growable
      // SharedArrayBuffer that another thread grows meanwhile is longer by now.
      this.u8.set(new Uint8Array(bufferOf.call(data), offsetOf.call(data), n), at)
    }
    if (this.publish(n)) binding.channelWake(this.id, WAKE_READERS)
    return 1
  }

  /** send(text) with its UTF-8 length n: true sent, false no room. */
  sendString (text, n) {
    const at = this.room(n)
    if (at < 0) return false
    // Nothing is published before publish(): a write that throws leaves no trace.
    this.u8.write(text, at, n, 'utf8')
    if (this.publish(n)) binding.channelWake(this.id, WAKE_READERS)
    return true
  }

  /** receiveInto(target) for a Uint8Array: bytes written, -1 none, -2 the native path. */
  receiveInto (target) {
    const n = this.next()
    if (n < 0) {
      if (this.skipped()) binding.channelWake(this.id, WAKE_WRITERS)
      return -1
    }
    const have = lengthOf.call(target)
    if (n > have) {
      // The message stays; padding already passed is freed all the same.
      if (this.skipped()) binding.channelWake(this.id, WAKE_WRITERS)
      throw targetTooShort(n, have)
    }
    if (target !== this.target) this.#adoptTarget(target)
    if (n > JS_COPY_MAX || target !== this.target || (n >>> 2) > this.targetWords.length) {
      return -2
    }
    this.copyTo(n, target, this.targetWords, 0)
    if (this.consume(n)) binding.channelWake(this.id, WAKE_WRITERS)
    return n
  }

  /** receive(): a Buffer of its own (a slice of the pool when short), or null. */
  receive () {
    const n = this.next()
    if (n < 0) {
      if (this.skipped()) binding.channelWake(this.id, WAKE_WRITERS)
      return null
    }
    let message
    if (n > POOL_SIZE >>> 3) {
      message = Buffer.allocUnsafeSlow(n)
      message.set(this.u8.subarray(this.at, this.at + n))
    } else {
      if (pool.buf === null || POOL_SIZE - pool.offset < n) pool.renew()
      if (n <= JS_COPY_MAX) this.copyTo(n, pool.buf, pool.words, pool.offset)
      else pool.buf.set(this.u8.subarray(this.at, this.at + n), pool.offset)
      message = pool.take(n)
    }
    if (this.consume(n)) binding.channelWake(this.id, WAKE_WRITERS)
    return message
  }

  #adoptSource (data) {
    const words = data === this.sourceSeen ? wordsOver(data) : null
    if (words === null) {
      this.sourceSeen = data
      return
    }
    this.source = data
    this.sourceWords = words
    this.sourceSeen = null
  }

  #adoptTarget (target) {
    const words = target === this.targetSeen ? wordsOver(target) : null
    if (words === null) {
      this.targetSeen = target
      return
    }
    this.target = target
    this.targetWords = words
    this.targetSeen = null
  }

  /** Lets go of the caller's Buffers (close()). */
  forget () {
    this.source = this.sourceWords = this.sourceSeen = null
    this.target = this.targetWords = this.targetSeen = null
  }

  // ---- sending ----

  /**
   * Finds room for an n-byte message: the byte offset in the region where its payload goes,
   * or -1 when the ring is too full now. Writes the padding record a wrap needs. The caller
   * writes the payload, then calls publish(n).
   */
  room (n) {
    const w = this.w
    const cap = this.capacity
    const tail = w[TAIL] // only this sender writes it; checked all the same
    if (tail === undefined) throw segmentClosed()
    const span = (HDR + n + ALIGN) & ~ALIGN
    const off = tail & this.mask
    const pad = off + span > cap ? cap - off : 0
    let head = this.head
    if (!this.headValid || ((tail - head) >>> 0) > cap ||
        ((tail + pad + span - head) >>> 0) > cap) {
      head = Atomics.load(w, HEAD)
      // Only a head that passed the checks is kept: a rejected one is read again next time.
      if (((head | tail) & ALIGN) !== 0 || ((tail - head) >>> 0) > cap) {
        this.headValid = false
        throw badState('head and tail')
      }
      this.head = head
      this.headValid = true
      if (((tail + pad + span - head) >>> 0) > cap) return -1
    } else if ((tail & ALIGN) !== 0) {
      throw badState('tail')
    }
    if (pad > 0) {
      const r = (RING + off) >> 2
      w[r + LENGTH] = pad - HDR
      w[r + PID] = 0
      w[r + START] = 0
      w[r + STATE] = SKIP
    }
    const pos = (tail + pad) | 0
    this.pos = pos
    this.span = span
    return RING + (pos & this.mask) + HDR
  }

  /** Publishes the record room() placed: true when a receiver sleeps and must be woken. */
  publish (n) {
    const w = this.w
    const r = (RING + (this.pos & this.mask)) >> 2
    w[r + LENGTH] = n
    w[r + PID] = 0
    w[r + START] = 0
    w[r + STATE] = COMMITTED
    add64(w, MESSAGES_SENT, 1)
    add64(w, BYTES_SENT, n)
    // Sequentially consistent: the record is complete before the tail moves, and the waiters
    // word is read after it (a receiver going to sleep sets that word, then re-checks the tail).
    Atomics.store(w, TAIL, (this.pos + this.span) | 0)
    return waiting(w, DATA_WAITERS)
  }

  // ---- receiving ----

  /**
   * Looks at the head: the length of the committed message there (its payload at this.at),
   * or -1 when there is none. Moves the head past padding and aborted records (this.moved
   * then says so: sleeping senders may need a wake).
   */
  next () {
    const w = this.w
    const cap = this.capacity
    for (;;) {
      const head = w[HEAD] // only this receiver writes it; checked all the same
      if (head === undefined) throw segmentClosed()
      let tail = this.tail
      if (head === tail || !this.tailValid || ((tail - head) >>> 0) > cap) {
        tail = Atomics.load(w, TAIL)
        this.tail = tail
        this.tailValid = true
      }
      const used = (tail - head) >>> 0
      if (used > cap || ((head | tail) & ALIGN) !== 0) {
        this.tailValid = false // read again next time: the garbage may be put right
        throw badState('head and tail')
      }
      if (used === 0) return -1
      const off = head & this.mask
      const r = (RING + off) >> 2
      const state = w[r + STATE]
      const length = w[r + LENGTH] >>> 0
      // Every record lies inside the ring and inside what the tail published.
      if (length > cap) throw badState('record length')
      const span = (HDR + length + ALIGN) & ~ALIGN
      if (off + span > cap || span > used) throw badState('record length')
      if (state === COMMITTED) {
        if (length > this.max) throw badState('record length')
        this.pos = head
        this.span = span
        this.at = RING + off + HDR
        return length
      }
      if (state !== SKIP && state !== ABORTED) throw badState('record state')
      Atomics.store(w, HEAD, (head + span) | 0)
      this.moved = true
    }
  }

  /** Consumes the message next() found: true when a sender sleeps and must be woken. */
  consume (n) {
    const w = this.w
    add64(w, MESSAGES_RECEIVED, 1)
    add64(w, BYTES_RECEIVED, n)
    // Sequentially consistent: the copy out is done before the head frees its bytes.
    Atomics.store(w, HEAD, (this.pos + this.span) | 0)
    this.moved = false
    return waiting(w, SPACE_WAITERS)
  }

  /** True when moving the head past padding left a sleeping sender to wake. */
  skipped () {
    if (!this.moved) return false
    this.moved = false
    return waiting(this.w, SPACE_WAITERS)
  }

  /**
   * Copies the n-byte message at this.at into dst (a Uint8Array) at byte d, whose Int32Array
   * view dst32 starts at the same byte as dst (d a multiple of 4).
   */
  copyTo (n, dst, dst32, d) {
    const at = this.at
    const words = n >>> 2
    copyWords(this.w, at >> 2, dst32, d >> 2, words)
    const u8 = this.u8
    for (let k = words << 2; k < n; k++) dst[d + k] = u8[at + k]
  }

  /** Copies the n-byte src (a Uint8Array, src32 an Int32Array over it) to the ring at at. */
  copyFrom (n, src, src32, at) {
    const words = n >>> 2
    copyWords(src32, 0, this.w, at >> 2, words)
    const u8 = this.u8
    for (let k = words << 2; k < n; k++) u8[at + k] = src[k]
  }
}

module.exports = {
  SpscRing, pool, POOL_SIZE, SPIN_POLLS, isUint8Array, isDetached, isUnusable, bufferOf
}
