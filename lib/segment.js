'use strict'
// The Segment class: one mapping of shared memory, its Buffer and views, its memory controls.

const { constants: { MAX_LENGTH } } = require('buffer')
const { inspect, types: { isProxy, isTypedArray } } = require('util')
const binding = require('./binding')
const { makeError, invalidArgType, invalidArgValue, outOfRange, closedError, unsupported } =
  require('./errors')
const { validateObject, validateInteger, validateBoolean, guardGetters } = require('./validate')
const { FileLock } = require('./segment-filelock')

const F = binding.flags
const KIND_NAMES = Object.fromEntries(Object.entries(binding.kinds).map(([k, v]) => [v, k]))
const TypedArray = Object.getPrototypeOf(Uint8Array)
// The built-in TypedArray constructors. A view's element size comes from the one a Type
// derives from: a subclass can say anything in its own static BYTES_PER_ELEMENT.
const INTRINSIC_TYPES = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array,
  Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array,
  globalThis.Float16Array].filter((T) => typeof T === 'function')
const INTRINSIC_SET = new Set(INTRINSIC_TYPES)
// The built-in getters, which read a typed array's own slots and cannot be overridden.
const taGetter = (key) => Object.getOwnPropertyDescriptor(TypedArray.prototype, key).get
const TA_BUFFER = taGetter('buffer')
const TA_BYTE_OFFSET = taGetter('byteOffset')
const TA_LENGTH = taGetter('length')
const dispose = Symbol.dispose || Symbol.for('nodejs.dispose')

// Results of the binding's open calls arrive in this array instead of a new object per call.
const scratch = new Float64Array(new ArrayBuffer(8 * 8))
binding.init(scratch)

// 'willneed' -> MADV_WILLNEED, for every advice the binding allows.
const ADVICE = Object.create(null)
for (const [key, value] of Object.entries(binding.constants)) {
  if (key.startsWith('MADV_')) ADVICE[key.slice(5).toLowerCase()] = value
}
const ADVICE_NUMBERS = new Set(Object.values(ADVICE))

// How close() detaches an ArrayBuffer: transfer(0) detaches it (its memory stays with no
// object) where the runtime has transfer(), and throws where a V8 detach key forbids it (a
// markAsUntransferable() of the user's, from Node 24 on), which napi_detach_arraybuffer would
// answer with an abort. Without transfer() (Node 20) the binding detaches; there a mark is no
// detach key.
const detachInJs = typeof ArrayBuffer.prototype.transfer === 'function'
  ? (ab) => { ab.transfer(0) }
  : undefined

// Only the factories in this package make Segments; the token keeps `new Segment()` out.
const kConstruct = Symbol('shmem.Segment')

// Every ArrayBuffer a Segment hands out, with where it starts in the mapping, so that
// shmem.wait() and the locks can find the segment (and the byte) behind any view.
const owners = new WeakMap()

// The native handle of a Segment, for other parts of this package (locks, channels) only.
let handleOf
let isPrivate
// A real Segment: `instanceof` also accepts Object.create(Segment.prototype), whose getters
// then throw V8's uncoded "Cannot read private member" (found by the API fuzzer).
let isSegment

class Segment {
  #handle
  #name
  #kind
  #size
  #flags
  #fd
  #key
  #id
  #created
  #closed = false
  #arrayBuffer = null
  #sharedArrayBuffer = null
  #buffer = null
  #fileLocks = null // a FileLock, made on the first file-lock call

  static {
    handleOf = (segment) => segment.#handle
    isSegment = (value) => value !== null && typeof value === 'object' && #handle in value
    isPrivate = (segment) => (segment.#flags & F.PRIVATE) !== 0
  }

  /** @private Use shmem.create(), shmem.open() and the other factories. */
  constructor (token, handle, name) {
    if (token !== kConstruct) {
      throw makeError('ERR_ILLEGAL_CONSTRUCTOR', 'Segment',
        'shmem.create(), shmem.open(), shmem.memfd(), shmem.fromFd(), shmem.mapFile() or ' +
        'shmem.sysv.create()')
    }
    this.#handle = handle
    this.#size = scratch[0]
    this.#fd = scratch[1] >= 0 ? scratch[1] : null
    this.#id = scratch[2] >= 0 ? scratch[2] : null
    this.#kind = KIND_NAMES[scratch[5]]
    this.#key = this.#kind === 'sysv' ? scratch[3] : null
    this.#created = scratch[4] === 1
    this.#flags = scratch[6]
    this.#name = name === undefined ? binding.segmentName(handle) : name
    // fromFd() of a POSIX object that was unlinked: it has no name (the core gives none).
    if (this.#kind === 'posix' && this.#name === '') this.#name = null
  }

  /**
   * '/name' (POSIX), the memfd's name, the file's path; null for System V, and for a POSIX
   * object fromFd() mapped after its name was unlinked.
   */
  get name () { return this.#name }
  /** 'posix' | 'sysv' | 'memfd' | 'file' */
  get kind () { return this.#kind }
  /** Bytes in the mapping. */
  get size () { return this.#size }
  get readOnly () { return (this.#flags & F.READONLY) !== 0 }
  /** The segment's own file descriptor; null for System V and after close(). */
  get fd () { return this.#closed ? null : this.#fd }
  /** System V key; null for the other kinds. */
  get key () { return this.#key }
  /** System V id; null for the other kinds. */
  get id () { return this.#id }
  /** True when the call that made this Segment created the object. */
  get created () { return this.#created }
  get closed () { return this.#closed }

  #check () {
    if (this.#closed) throw closedError(this.#describe())
  }

  #describe () {
    if (this.#kind === 'sysv') return `(System V key ${this.#key}, id ${this.#id})`
    return `'${this.#name}'`
  }

  #tooLarge () {
    return outOfRange('segment.size', `<= buffer.constants.MAX_LENGTH (${MAX_LENGTH}) for ` +
      'one ArrayBuffer over the whole segment; reach a larger one through windows with ' +
      'segment.view(Type, byteOffset, length)', this.#size)
  }

  /** One ArrayBuffer over the whole mapping, made on first use (never per call). */
  get arrayBuffer () {
    this.#check()
    if (this.#arrayBuffer === null) {
      if (this.#size > MAX_LENGTH) throw this.#tooLarge()
      const ab = binding.arrayBuffer(this.#handle, 0, this.#size)
      owners.set(ab, { segment: this, base: 0 })
      this.#arrayBuffer = ab
    }
    return this.#arrayBuffer
  }

  /**
   * One SharedArrayBuffer over the whole mapping, made on first use: postMessage() hands it to
   * a worker without reopening the segment, and Atomics.wait/notify work on it between
   * threads. close() cannot detach it: the mapping stays until the last SharedArrayBuffer over
   * it (here or in a worker) is garbage-collected. ERR_SHMEM_UNSUPPORTED where the runtime
   * lacks node_api_create_external_sharedarraybuffer (Node.js 20; 22.x before 22.23.3, 24.x
   * before 24.16.0, 26.x before 26.1.0).
   */
  get sharedArrayBuffer () {
    this.#check()
    if (this.#sharedArrayBuffer === null) {
      if (this.#size > MAX_LENGTH) throw this.#tooLarge()
      this.#sharedArrayBuffer = this.#sharedWindow(0, this.#size)
    }
    return this.#sharedArrayBuffer
  }

  #sharedWindow (byteOffset, byteLength) {
    const sab = binding.sharedArrayBuffer(this.#handle, byteOffset, byteLength)
    owners.set(sab, { segment: this, base: byteOffset })
    return sab
  }

  /** One Buffer over the whole mapping: the same object every time. */
  get buffer () {
    this.#check()
    if (this.#buffer === null) {
      this.#buffer = Buffer.from(this.arrayBuffer, 0, this.#size)
    }
    return this.#buffer
  }

  /**
   * A view of the segment: any TypedArray constructor, DataView or Buffer. length counts
   * elements (bytes for DataView and Buffer) and defaults to as many as fit. With
   * { shared: true } the view is over a SharedArrayBuffer (see sharedArrayBuffer).
   */
  view (Type, byteOffset = 0, length, options) {
    this.#check()
    options = validateObject(options, 'options')
    const shared = validateBoolean(options.shared, 'options.shared')
    let bytesPerElement
    let Intrinsic = null
    if (Type === DataView || Type === Buffer) {
      bytesPerElement = 1
    } else if (INTRINSIC_SET.has(Type)) { // a built-in: the common case, and never a Proxy
      Intrinsic = Type
      bytesPerElement = Type.BYTES_PER_ELEMENT
    } else if (typeof Type === 'function' && !isProxy(Type) &&
               (Intrinsic = intrinsicTypeOf(Type)) !== null) {
      bytesPerElement = Intrinsic.BYTES_PER_ELEMENT
    } else {
      throw invalidArgType('Type', 'a TypedArray constructor, DataView or Buffer', Type)
    }
    const size = this.#size
    byteOffset = validateInteger(byteOffset, 'byteOffset', 0, size)
    if (byteOffset % bytesPerElement !== 0) {
      throw invalidArgValue('byteOffset', byteOffset,
        `must be a multiple of ${bytesPerElement} for ${Type.name}`, RangeError)
    }
    const fit = Math.floor((size - byteOffset) / bytesPerElement)
    // With no length, as many elements as fit, and no more than one view may hold: on a
    // segment larger than that, the window from byteOffset that one view can reach.
    length = length === undefined
      ? Math.min(fit, Math.floor(MAX_LENGTH / bytesPerElement))
      : validateInteger(length, 'length', 0, fit)
    const byteLength = length * bytesPerElement

    let ab, start
    if (size <= MAX_LENGTH) {
      ab = shared ? this.sharedArrayBuffer : this.arrayBuffer
      start = byteOffset
    } else {
      // Past MAX_LENGTH each view is a window: an ArrayBuffer of its own over that range.
      if (byteLength > MAX_LENGTH) {
        throw outOfRange('length', `<= ${MAX_LENGTH / bytesPerElement} elements ` +
          '(buffer.constants.MAX_LENGTH bytes) for a window of a segment this large', length)
      }
      if (shared) {
        ab = this.#sharedWindow(byteOffset, byteLength)
      } else {
        ab = binding.arrayBuffer(this.#handle, byteOffset, byteLength)
        owners.set(ab, { segment: this, base: byteOffset })
      }
      start = 0
    }
    if (Type === Buffer) return Buffer.from(ab, start, length)
    if (Type === DataView) return new DataView(ab, start, length)
    const view = new Type(ab, start, length)
    // A subclass's constructor runs the user's code: what it returns must be the view asked
    // for, or the caller would index memory it did not mean to. (A built-in needs no check.)
    if (Type !== Intrinsic && (!isTypedArray(view) || TA_BUFFER.call(view) !== ab ||
        TA_BYTE_OFFSET.call(view) !== start || TA_LENGTH.call(view) !== length)) {
      throw invalidArgValue('Type', Type,
        'must construct a view of the ArrayBuffer, offset and length it is given')
    }
    return view
  }

  #range (offset, length, name) {
    offset = offset === undefined ? 0 : validateInteger(offset, `${name}.offset`, 0, this.#size)
    length = length === undefined
      ? this.#size - offset
      : validateInteger(length, `${name}.length`, 0, this.#size - offset)
    return [offset, length]
  }

  /**
   * madvise(2) over [offset, offset + length), widened to whole pages. advice: 'normal',
   * 'random', 'sequential', 'willneed', 'dontneed', 'hugepage', 'nohugepage' (and the other
   * MADV_* names in lower case), or a constants.MADV_* number.
   */
  advise (advice, offset, length) {
    this.#check()
    let value
    if (typeof advice === 'string') {
      value = ADVICE[advice.toLowerCase()]
      if (value === undefined) {
        throw invalidArgValue('advice', advice, `must be one of ${Object.keys(ADVICE).join(', ')}`)
      }
    } else if (typeof advice === 'number') {
      if (!ADVICE_NUMBERS.has(advice)) {
        throw invalidArgValue('advice', advice, 'must be one of the constants.MADV_* values')
      }
      value = advice
    } else {
      throw invalidArgType('advice', 'of type string or number', advice)
    }
    const [o, l] = this.#range(offset, length, 'advise')
    if (l === 0) return
    binding.advise(this.#handle, value, o, l)
  }

  /** msync(2): writes dirty pages of a file mapping back; { async, invalidate } as MS_*. */
  sync (options) {
    this.#check()
    options = validateObject(options, 'options')
    const [o, l] = this.#range(options.offset, options.length, 'options')
    let flags = 0
    if (validateBoolean(options.async, 'options.async')) flags |= F.SYNC_ASYNC
    if (validateBoolean(options.invalidate, 'options.invalidate')) flags |= F.SYNC_INVALIDATE
    if (l === 0) return
    binding.sync(this.#handle, flags, o, l)
  }

  /** mincore(2): how many of the segment's pages are in memory now. */
  residency (options) {
    this.#check()
    options = validateObject(options, 'options')
    const [o, l] = this.#range(options.offset, options.length, 'options')
    if (l === 0) return { residentPages: 0, totalPages: 0 }
    binding.residency(this.#handle, o, l)
    return { residentPages: scratch[0], totalPages: scratch[1] }
  }

  /** mlock(2) the mapping; { onFault: true } locks pages as they are first touched. */
  lockMemory (options) {
    this.#check()
    options = validateObject(options, 'options')
    binding.lockMemory(this.#handle, validateBoolean(options.onFault, 'options.onFault'))
  }

  unlockMemory () {
    this.#check()
    binding.unlockMemory(this.#handle)
  }

  /** fstat(2), or IPC_STAT for System V. */
  stat () {
    this.#check()
    const s = binding.stat(this.#handle)
    if (this.#kind === 'sysv') {
      return {
        key: this.#key,
        id: this.#id,
        size: s.size,
        mode: s.mode,
        uid: s.uid,
        gid: s.gid,
        cuid: s.cuid,
        cgid: s.cgid,
        nattch: s.nattch,
        cpid: s.cpid,
        lpid: s.lpid,
        atimeMs: s.atimeMs,
        dtimeMs: s.mtimeMs,
        ctimeMs: s.ctimeMs,
        atime: new Date(s.atimeMs),
        dtime: new Date(s.mtimeMs),
        ctime: new Date(s.ctimeMs)
      }
    }
    return {
      size: s.size,
      allocated: s.allocated,
      mode: s.mode,
      uid: s.uid,
      gid: s.gid,
      ino: s.ino,
      dev: s.dev,
      nlink: s.nlink,
      atimeMs: s.atimeMs,
      mtimeMs: s.mtimeMs,
      ctimeMs: s.ctimeMs,
      atime: new Date(s.atimeMs),
      mtime: new Date(s.mtimeMs),
      ctime: new Date(s.ctimeMs)
    }
  }

  /**
   * Unmaps and closes the fd. Every Buffer, TypedArray and DataView this segment handed out
   * becomes detached (length 0) first. Idempotent. The name stays: see unlink()/remove().
   * A buffer that escaped the detach (moved by ArrayBuffer.prototype.transfer() or a
   * postMessage transfer list, or marked with markAsUntransferable) keeps the mapping alive
   * until it is garbage-collected: no touch of it can fault. So does every SharedArrayBuffer,
   * which nothing can detach: it and its views keep working until the last one is collected.
   */
  close () {
    if (this.#closed) return
    if (this.#fileLocks !== null) this.#fileLocks.forget()
    this.#closed = true
    this.#arrayBuffer = null
    this.#sharedArrayBuffer = null
    this.#buffer = null
    binding.close(this.#handle, detachInJs)
  }

  /**
   * shm_unlink(3) (POSIX). True, or false when the name was already gone (also when the
   * segment has no name: fromFd() of an unlinked object).
   */
  unlink () {
    if (this.#kind !== 'posix') {
      throw unsupported(`unlink() applies to POSIX segments; this one is '${this.#kind}'` +
        (this.#kind === 'sysv' ? ': use remove()' : ''))
    }
    return binding.unlink(this.#handle)
  }

  /** IPC_RMID (System V): the segment goes when the last process detaches. */
  remove () {
    if (this.#kind !== 'sysv') {
      throw unsupported(`remove() applies to System V segments; this one is '${this.#kind}'` +
        (this.#kind === 'posix' ? ': use unlink()' : ''))
    }
    return binding.unlink(this.#handle)
  }

  // File locks: flock(2) on this Segment's own open file description (lib/segment-filelock.js).

  #files () {
    if (this.#fileLocks === null) {
      this.#fileLocks = new FileLock(this.#handle, this.#fd !== null, this.#describe(),
        () => this.#closed)
    }
    return this.#fileLocks
  }

  /**
   * Takes a whole-file lock (flock(2)) on this Segment's own open file description: 'shared'
   * or 'exclusive'. Blocks the calling thread until it has it, or until options.timeout ms
   * passed. Returns true, or false when the timeout passed. Two Segments of one name exclude each other, in one
   * process as in two.
   */
  lock (mode, options) {
    return this.#files().lock(mode, options)
  }

  /** Takes the file lock if no other open file description holds a conflicting one. */
  tryLock (mode) {
    return this.#files().tryLock(mode)
  }

  /**
   * Waits for the file lock on a thread of its own while the event loop runs. Resolves with
   * true, or false when the timeout passed; rejects with an AbortError when options.signal fires.
   */
  lockAsync (mode, options) {
    return this.#files().lockAsync(mode, options)
  }

  /** Releases the file lock this Segment holds (ERR_SHMEM_NOT_OWNER when it holds none). */
  unlock () {
    return this.#files().unlock()
  }

  /** 'shared' | 'exclusive' while this Segment holds a file lock, else null. */
  get fileLock () { return this.#fileLocks === null ? null : this.#fileLocks.mode }

  [dispose] () {
    this.close()
  }

  [inspect.custom] (depth, options) {
    if (!isSegment(this)) return 'Segment {}' // Segment.prototype itself, or an object on it
    const fields = { name: this.#name, kind: this.#kind, size: this.#size }
    if (this.#kind === 'sysv') Object.assign(fields, { key: this.#key, id: this.#id })
    fields.readOnly = this.readOnly
    fields.closed = this.#closed
    return `Segment ${inspect(fields, { ...options, breakLength: Infinity })}`
  }
}

// The built-in TypedArray constructor Type is or derives from; null for anything else.
function intrinsicTypeOf (Type) {
  if (INTRINSIC_SET.has(Type)) return Type
  for (let T = Type; typeof T === 'function'; T = Object.getPrototypeOf(T)) {
    if (INTRINSIC_SET.has(T)) return T
    if (T === TypedArray || isProxy(T)) return null
  }
  return null
}

function makeSegment (handle, name) {
  return new Segment(kConstruct, handle, name)
}

/**
 * The segment behind a view and the byte in the mapping where the view's element `index`
 * lies; null when the view is not over a mapping this package made.
 */
function locate (view, index, bytesPerElement) {
  const owner = owners.get(view.buffer)
  if (owner === undefined) return null
  return {
    segment: owner.segment,
    handle: handleOf(owner.segment),
    offset: owner.base + view.byteOffset + index * bytesPerElement
  }
}

guardGetters(Segment, isSegment)

module.exports = {
  Segment,
  makeSegment,
  ADVICE,
  locate,
  handleOf: (s) => handleOf(s),
  isSegment: (value) => isSegment(value),
  isPrivate: (s) => isPrivate(s)
}
