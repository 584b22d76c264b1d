'use strict'
// SharedMap: a key-value cache in shared memory that every process on the host reads at
// memory speed. The map itself is the C core's (src/shared_map*.c, format in
// docs/map-format.md): reads take no lock and never wait, writes take one robust lock, a
// writer killed at any point is recovered by the next. This file gives it its JS shape:
// encodings, TTL options, update(), iterators and stats. Where a map comes from (create, open,
// init, attach) is lib/shared-map-open.js.

const v8 = require('v8')
const { inspect } = require('util')
const binding = require('./binding')
// The hot calls, loaded once (a load from the binding object per call showed in profiles).
const { mapGet, mapSet, mapGetInto, mapHas, mapDelete, mapStats } = binding
const { handleOf } = require('./segment')
const factories = require('./shared-map-open')
const { makeError, invalidArgType, invalidArgValue, outOfRange } = require('./errors')
const { validateObject, validateInteger, validateFunction, MAX_SAFE, guardGetters } = require('./validate')

const dispose = Symbol.dispose || Symbol.for('nodejs.dispose')
const kConstruct = Symbol('shmem.SharedMap')
let isSharedMap // (value) => whether value is a SharedMap; set by the class's static block
const { ENCODINGS, EVICTS, validateTtl } = factories
const V8 = 3

// Values as the map stores them: a string (its UTF-8) or bytes.
const encoders = [
  (value) => {
    if (typeof value === 'string' || ArrayBuffer.isView(value)) return value
    if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
      return new Uint8Array(value)
    }
    throw invalidArgType('value', 'of type string or an instance of Buffer, TypedArray, ' +
      'DataView or ArrayBuffer', value)
  },
  (value) => {
    if (typeof value !== 'string') throw invalidArgType('value', 'of type string', value)
    return value
  },
  (value) => {
    let text
    try {
      text = JSON.stringify(value)
    } catch (err) {
      // A BigInt or a cycle: the value's fault, said with a code. (What a toJSON() of the
      // caller's throws comes through as it is.)
      if (!(err instanceof TypeError)) throw err
      throw invalidArgValue('value', value,
        `cannot be encoded as JSON (${err.message.split('\n')[0]})`)
    }
    if (text === undefined) throw invalidArgValue('value', value, 'cannot be encoded as JSON')
    return text
  },
  (value) => {
    try {
      return v8.serialize(value)
    } catch (err) {
      // v8.serialize() refuses what structured clone cannot copy (a function, a
      // SharedArrayBuffer, a symbol) with an Error that has no code.
      if (err === null || typeof err !== 'object' || err.code !== undefined ||
        !/could not be cloned/.test(err.message)) throw err
      throw invalidArgValue('value', value,
        `cannot be serialized by v8.serialize() (${err.message})`)
    }
  }
]
const decoders = [null, null, JSON.parse, v8.deserialize]

class SharedMap {
  #h

  static {
    isSharedMap = (value) => value !== null && typeof value === 'object' && #h in value
  }
  #segment
  #ownsSegment
  #encode
  #decode
  #encoding
  #capacity
  #maxKeyBytes
  #maxValueBytes
  #evict
  #ttl
  #closed = false
  #out = new Float64Array(8)
  #bytes = false // values come back as bytes ('buffer', 'v8'): get() goes through #scratch
  #scratch = null

  /** @private Use SharedMap.create(), open(), openOrCreate(), init() or attach(). */
  constructor (token, segment, offset, byteLength, init, o, ownsSegment) {
    if (token !== kConstruct) {
      throw makeError('ERR_ILLEGAL_CONSTRUCTOR', 'SharedMap', 'SharedMap.create(), ' +
        'SharedMap.open(), SharedMap.openOrCreate(), SharedMap.init() or SharedMap.attach()')
    }
    o = o || { capacity: 0, maxKeyBytes: 0, maxValueBytes: 0, evict: 0, encoding: 0, ttl: 0 }
    const out = new Float64Array(7)
    this.#h = binding.mapOpen(handleOf(segment), offset, byteLength, init, o.capacity,
      o.maxKeyBytes, o.maxValueBytes, o.evict, o.encoding, o.ttl, out)
    this.#capacity = out[0]
    this.#maxKeyBytes = out[1]
    this.#maxValueBytes = out[2]
    this.#evict = EVICTS[out[3]]
    this.#encoding = ENCODINGS[out[4]]
    this.#ttl = out[5]
    this.#encode = encoders[out[4]]
    this.#decode = decoders[out[4]]
    this.#bytes = out[4] === 0 || out[4] === V8
    if (this.#bytes) this.#scratch = Buffer.allocUnsafeSlow(Math.min(out[2], 4096))
    this.#segment = segment
    this.#ownsSegment = ownsSegment
  }

  /**
   * Bytes a map with these options needs (header, index and entries).
   * @param {object} options capacity, maxKeyBytes, maxValueBytes (as create() takes them)
   */
  static byteLength (options) {
    return factories.byteLength(options)
  }

  /**
   * Makes a new POSIX segment named `name` holding an empty map. options: capacity (entries,
   * default 1024), maxKeyBytes (64), maxValueBytes (1024), evict ('lru' or 'none'), ttl (ms,
   * default none), encoding ('json' by default, 'utf8', 'buffer', 'v8'), mode, autoUnlink.
   */
  static create (name, options) {
    return factories.create(construct, name, options)
  }

  /** Opens the map another process created with SharedMap.create(name). */
  static open (name) {
    return factories.open(construct, name)
  }

  /** Opens the map named `name`, or creates it with options when there is none. */
  static openOrCreate (name, options) {
    return factories.openOrCreate(construct, name, options)
  }

  /**
   * Formats byteLength bytes of segment at offset (a multiple of 64) as an empty map. The
   * segment stays the caller's: close the map before the segment.
   */
  static init (segment, offset, byteLength, options) {
    return factories.init(construct, segment, offset, byteLength, options)
  }

  /** Attaches to the map at offset in segment (formatted by init() in any process). */
  static attach (segment, offset = 0) {
    return factories.attach(construct, segment, offset)
  }

  get capacity () { return this.#capacity }
  get maxKeyBytes () { return this.#maxKeyBytes }
  get maxValueBytes () { return this.#maxValueBytes }
  get evict () { return this.#evict }
  get encoding () { return this.#encoding }
  /** The map's default ttl in ms (0: none). */
  get ttl () { return this.#ttl }
  get segment () { return this.#segment }
  get closed () { return this.#closed }

  /** The value of key, or undefined when it is absent or expired. */
  get (key) {
    if (this.#bytes) return this.#getBytes(key)
    const v = mapGet(this.#h, key)
    return v === undefined || this.#decode === null ? v : this.#decode(v)
  }

  // 'buffer' and 'v8': the bytes into a scratch Buffer, then one copy made in JavaScript,
  // which costs a third of a Buffer made by the binding.
  #getBytes (key) {
    let s = this.#scratch
    let n = mapGetInto(this.#h, key, s, true)
    while (n < -1) {
      s = this.#scratch = Buffer.allocUnsafeSlow(-2 - n)
      n = mapGetInto(this.#h, key, s, true)
    }
    if (n === -1) return undefined
    if (this.#decode !== null) return this.#decode(s.subarray(0, n))
    const out = Buffer.allocUnsafe(n)
    out.set(n === s.length ? s : s.subarray(0, n))
    return out
  }

  /**
   * Copies key's stored bytes into target without allocating: how many, or -1 when absent.
   * A target too small for the value throws ERR_OUT_OF_RANGE.
   */
  getInto (key, target) {
    return mapGetInto(this.#h, key, target, false)
  }

  /** Whether key is there and not expired (it does not count as a use of the key). */
  has (key) {
    return mapHas(this.#h, key)
  }

  /**
   * Sets key to value. options.ttl: ms until it expires (0 or Infinity: never; default: the
   * map's ttl). A key or value over its limit throws ERR_OUT_OF_RANGE and changes nothing.
   */
  set (key, value, options) {
    const ttl = options === undefined ? -1 : this.#ttlOf(options)
    mapSet(this.#h, key, this.#encode(value), ttl)
    return this
  }

  #ttlOf (options) {
    const ttl = validateObject(options, 'options').ttl
    return ttl === undefined ? -1 : validateTtl(ttl, 'options.ttl')
  }

  /** Removes key: true when it was there. */
  delete (key) {
    return mapDelete(this.#h, key)
  }

  /**
   * Reads key, calls fn(value) and stores what it returns (undefined deletes the key), all
   * under the map's writer lock, so that no other writer in any process comes between. fn
   * must be synchronous; when it throws, nothing changes. Returns fn's value.
   */
  update (key, fn, options) {
    validateFunction(fn, 'fn')
    const ttl = options === undefined ? -1 : this.#ttlOf(options)
    binding.mapLock(this.#h)
    try {
      const next = fn(this.get(key))
      if (next !== null && typeof next === 'object' && typeof next.then === 'function') {
        // A Promise would be stored as '{}' (json) and its rejection go unheard.
        next.then(undefined, () => {})
        throw invalidArgValue('fn', fn, 'must be synchronous: it returned a Promise')
      }
      if (next === undefined) mapDelete(this.#h, key)
      else mapSet(this.#h, key, this.#encode(next), ttl)
      return next
    } finally {
      binding.mapUnlock(this.#h)
    }
  }

  /**
   * Adds by (default 1) to the integer value of key, atomically across processes, as Redis
   * INCRBY does: an absent key counts as 0. Returns the new value. The value is stored as
   * decimal text (a number under 'json'); a value that is not an integer throws
   * ERR_SHMEM_NOT_INTEGER.
   */
  increment (key, by = 1) {
    by = validateInteger(by, 'by', -MAX_SAFE, MAX_SAFE)
    if (this.#encoding !== 'v8') return binding.mapIncrement(this.#h, key, by)
    return this.update(key, (v) => {
      if (v === undefined) v = 0
      if (!Number.isSafeInteger(v)) throw makeError('ERR_SHMEM_NOT_INTEGER')
      const next = v + by
      if (!Number.isSafeInteger(next)) {
        throw outOfRange('by', 'such that the result stays within +/-(2^53 - 1)', by)
      }
      return next
    })
  }

  /** Removes every key. Readers at the same time see each key or a miss, never a torn one. */
  clear () {
    binding.mapClear(this.#h)
  }

  /** Removes the expired keys now (writers also remove them as they meet them): how many. */
  purgeStale () {
    return binding.mapPurge(this.#h)
  }

  /** The number of entries (expired ones count until a writer removes them). */
  get size () {
    mapStats(this.#h, this.#out)
    return this.#out[0]
  }

  /**
   * Counters of the map, shared by every process: entries, bytes (of keys and values),
   * capacity, hits, misses, evictions, expirations, recoveries (writers that died holding the
   * lock, whose work the next writer repaired). Each process adds its hits and misses in
   * batches of 64, and on stats() and close().
   */
  stats () {
    const o = this.#out
    mapStats(this.#h, o)
    return {
      entries: o[0],
      bytes: o[1],
      capacity: o[2],
      hits: o[3],
      misses: o[4],
      evictions: o[5],
      expirations: o[6],
      recoveries: o[7]
    }
  }

  // The walk: [key, value] of each live entry, each read whole; keys set or removed during
  // the walk may be seen or not.
  * #walk () {
    const h = this.#h
    let cursor = 0
    for (;;) {
      const r = binding.mapNext(h, cursor)
      if (r === undefined) return
      cursor = r[0]
      if (this.#decode !== null) r[2] = this.#decode(r[2])
      yield r
    }
  }

  /** The keys: strings as they were set as strings, else Buffers. */
  * keys () {
    for (const r of this.#walk()) yield r[1]
  }

  * values () {
    for (const r of this.#walk()) yield r[2]
  }

  * entries () {
    for (const r of this.#walk()) yield [r[1], r[2]]
  }

  [Symbol.iterator] () {
    return this.entries()
  }

  /** Lets go of the map (and of the segment create()/open() made for it). Idempotent. */
  close () {
    if (this.#closed) return
    this.#closed = true
    binding.mapClose(this.#h)
    if (this.#ownsSegment) this.#segment.close()
  }

  [dispose] () {
    this.close()
  }

  [inspect.custom] (depth, options) {
    if (this.#closed) return 'SharedMap { closed }'
    return `SharedMap ${inspect({ size: this.size, capacity: this.#capacity,
      encoding: this.#encoding, evict: this.#evict }, options)}`
  }
}

function construct (segment, offset, byteLength, init, options, ownsSegment) {
  return new SharedMap(kConstruct, segment, offset, byteLength, init, options, ownsSegment)
}

guardGetters(SharedMap, isSharedMap)

module.exports = { SharedMap }
