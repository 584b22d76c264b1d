'use strict'
// The API fuzzer's engine, run as a child process by test/fuzz-api.test.js (a bounded count)
// and by scripts/fuzz.js (longer): `node test/fuzz/api-fuzz.js '{"seed":1,"calls":2000}'`.
//
// It calls every public function and method with hostile values (wrong types, NaN, -0, huge
// numbers, BigInts, Symbols, Proxies that throw, getters and valueOf()s that close the
// segment or channel mid-call, fake and subclassed typed arrays, detached buffers, frozen
// objects), feeds random text to the parsers of what other processes and the kernel write
// (creator records, /proc/<pid>/stat, /proc/sysvipc/shm), writes garbage into lock, channel
// and SharedMap words, and terminates workers in the middle of blocking calls. Every error thrown
// (or rejected with) must carry a string `code`, except the fuzzer's own (a trap throwing
// HostileError, which must come through unchanged).
//
// Output: one JSON line per finding ({"finding": ...}) and a last line {"done": ...}. Exit 0
// when it ran to the end (findings or not: the parent judges them), 1 on an internal error.
// A crash is an exit by signal; a hang is the parent's watchdog firing.
const path = require('path')
const fs = require('fs')
const os = require('os')
const { Worker } = require('worker_threads')

const opts = JSON.parse(process.argv[2] || '{}')
const seed = (opts.seed >>> 0) || 1
const totalCalls = opts.calls || 2000
const workerRounds = opts.workers ?? 6
const registry = fs.mkdtempSync(path.join(os.tmpdir(), 'shmem-fuzz-reg-'))
process.env.SHMEM_REGISTRY = registry

const root = path.join(__dirname, '..', '..')
const shmem = require(root)
const lifecycle = require(path.join(root, 'lib', 'lifecycle.js'))
const compat = {
  sta: require(path.join(root, 'compat', 'shm-typed-array.js')),
  mmapIo: require(path.join(root, 'compat', 'mmap-io.js')),
  MmapIpc: require(path.join(root, 'compat', 'mmap-ipc.js')),
  shmmap: require(path.join(root, 'compat', 'shmmap.js'))
}

// xorshift32: a failure replays from its seed.
let x = seed
function rand () {
  x ^= x << 13; x >>>= 0
  x ^= x >>> 17
  x ^= x << 5; x >>>= 0
  return x
}
const below = (n) => rand() % n
const chance = (p) => rand() / 4294967296 < p
const pick = (a) => a[below(a.length)]

class HostileError extends Error {}
const hostileThrow = () => { throw new HostileError('thrown by the fuzzer') }

const findings = []
let site = ''
// Set when the current call was given a fake built-in (an object with a typed array's or a
// Buffer's prototype that is not one, or a Proxy around one): the built-in methods it
// inherits throw TypeErrors of their own when used, as they would in any Node API, and such
// an error is the object's, not ours.
let fakeUsed = false
let userObjectErrors = 0
function report (kind, err, where = site) {
  const f = {
    kind,
    site: where,
    seed,
    name: err && err.name,
    code: err && err.code,
    message: String(err && err.message).slice(0, 300),
    stack: String(err && err.stack).split('\n').slice(1, 4).map((s) => s.trim())
  }
  findings.push(f)
  process.stdout.write(JSON.stringify({ finding: f }) + '\n')
}

function judge (err, where = site, fake = fakeUsed) {
  if (err instanceof HostileError) return
  if (err === null || typeof err !== 'object') return report('non-error-thrown', { message: String(err) }, where)
  if (typeof err.code === 'string') return
  if (fake && err instanceof TypeError && /incompatible receiver/.test(err.message)) {
    userObjectErrors++
    return
  }
  report('codeless', err, where)
}

// ---- resources -------------------------------------------------------------------------

let names = 0
const uniqueName = () => `/shmem-fuzz-${process.pid}-${seed}-${names++}`
const CHANNEL_OFF = 4096
const CHANNEL_BYTES = 384 + 1024
const MAP_OFF = 40960
const MAP_OPTIONS = { capacity: 8, maxKeyBytes: 16, maxValueBytes: 64, encoding: 'utf8' }
const MAP_BYTES = shmem.SharedMap.byteLength(MAP_OPTIONS)

function freshContext () {
  const c = {}
  c.seg = shmem.memfd(65536)
  c.mutex = shmem.Mutex.init(c.seg, 0)
  c.rw = shmem.RwLock.init(c.seg, 1024)
  c.sem = shmem.Semaphore.init(c.seg, 2048, 1)
  c.channels = ['spsc', 'mpsc', 'mpmc'].map((kind, i) =>
    shmem.Channel.init(c.seg, CHANNEL_OFF + i * 2048, CHANNEL_BYTES, { kind, capacity: 1024 }))
  c.i32 = c.seg.view(Int32Array, 16384, 64)
  c.posix = shmem.create(uniqueName(), 8192, { autoUnlink: true })
  c.named = shmem.Channel.create(uniqueName(), { kind: pick(['spsc', 'mpsc', 'mpmc']), capacity: 256, autoUnlink: true })
  c.map = shmem.SharedMap.init(c.seg, MAP_OFF, MAP_BYTES, MAP_OPTIONS)
  c.mapAttached = shmem.SharedMap.attach(c.seg, MAP_OFF)
  c.namedMap = shmem.SharedMap.create(uniqueName(), { capacity: 16, encoding: pick(['json', 'buffer', 'v8']), autoUnlink: true })
  c.closeables = [c.seg, c.posix, c.named, ...c.channels, c.map, c.mapAttached, c.namedMap]
  return c
}

function closeContext (c) {
  for (const r of c.closeables) {
    try { r.close() } catch (err) { judge(err) }
  }
}

// ---- values ------------------------------------------------------------------------------

let ctx = null
// Something that, when touched, closes one of the context's resources.
function closeSomething () {
  const r = pick(ctx.closeables)
  try { r.close() } catch {}
}

const detached = () => {
  const ab = new ArrayBuffer(16)
  structuredClone(ab, { transfer: [ab] })
  return ab
}

function hostile () {
  switch (below(40)) {
    case 0: return undefined
    case 1: return null
    case 2: return NaN
    case 3: return -0
    case 4: return Infinity
    case 5: return -Infinity
    case 6: return 2 ** 53
    case 7: return 2 ** 64
    case 8: return -1
    case 9: return 1.5
    case 10: return 0x7fffffff
    case 11: return 0x80000000
    case 12: return ''
    case 13: return 'x'.repeat(below(2) ? 300 : 5000)
    case 14: return Symbol('fuzz')
    case 15: return 1n
    case 16: return -1n
    case 17: return 2n ** 64n
    case 18: return {}
    case 19: return []
    case 20: return Object.create(null)
    case 21: return new Proxy({}, { get: hostileThrow, has: hostileThrow, ownKeys: hostileThrow, getPrototypeOf: hostileThrow })
    case 22: return () => {}
    case 23: return Buffer.alloc(below(64))
    case 24: return new (pick([Int8Array, Uint16Array, Int32Array, Float64Array, BigInt64Array]))(below(8))
    case 25: return detached()
    case 26: {
      const view = new Uint8Array(16)
      structuredClone(view.buffer, { transfer: [view.buffer] })
      return view // a view of a detached buffer
    }
    case 27: fakeUsed = true; return Object.create(pick([Int32Array, Uint8Array, Buffer]).prototype)
    case 28: return Object.freeze({ timeout: 1, capacity: 64, kind: 'spsc' })
    case 29: return { valueOf () { closeSomething(); return 8 }, toString () { closeSomething(); return 'x' } }
    case 30: return { [Symbol.toPrimitive]: hostileThrow }
    case 31: return new SharedArrayBuffer(16)
    case 32: return Object.create(shmem.Segment.prototype) // a fake Segment
    case 33: return ctx.seg
    case 34: return pick(ctx.closeables)
    case 35: return true
    case 36: return `/shmem-fuzz-${process.pid}-missing`
    case 37: fakeUsed = true; return new Proxy(Buffer.alloc(16), {})
    case 38: {
      class Sub extends Int32Array {}
      return new Sub(4)
    }
    default: return new Date(NaN)
  }
}

// A valid value most of the time, else a hostile one.
const v = (valid, p = 0.6) => (chance(p) ? valid() : hostile())

// Bounded options for a call that may block: never "no limit".
function syncOptions () {
  switch (below(8)) {
    case 0: return { timeout: 0 }
    case 1: return { timeout: below(3) }
    case 2: return { get timeout () { closeSomething(); return 1 } }
    case 3: return { timeout: pick([-1, NaN, '1', 1n, null, -Infinity]) }
    case 4: return new Proxy({}, { get: hostileThrow })
    case 5: return pick([7, 'x', Symbol('o'), []])
    case 6: return Object.freeze({ timeout: 0 })
    default: return { get timeout () { hostileThrow() } }
  }
}

// A wait's timeout: bounded, hostile or not (undefined, NaN and Infinity mean no limit, and a
// hostile `expected` of 0 matches the word: that wait would never end).
const waitTimeout = () => (chance(0.6) ? below(3) : pick([0, -1, -0, 1.5, '1', 1n, null, Symbol('t')]))

function asyncOptions () {
  switch (below(6)) {
    case 0: return { timeout: below(3) }
    case 1: return { timeout: 5, signal: AbortSignal.timeout(below(3)) }
    case 2: return { timeout: 5, signal: AbortSignal.abort() }
    case 3: return { timeout: 5, signal: pick([{}, { aborted: true }, null, 1]) }
    case 4: return { get timeout () { closeSomething(); return 1 } }
    default: return syncOptions()
  }
}

const offset = () => pick([0, 64, 1024, 2048, CHANNEL_OFF, 65536 - 64, 65536, below(65536)])
const size = () => pick([1, 64, 4096, 8192, below(100000) + 1])
const data = () => pick([
  () => Buffer.alloc(below(80), below(256)),
  () => 'text'.repeat(below(20)),
  () => new Uint16Array(below(30)),
  () => new DataView(new ArrayBuffer(below(40))),
  () => new ArrayBuffer(below(40)),
  () => ctx.seg.view(Uint8Array, CHANNEL_OFF, below(600)), // the ring's own bytes
  () => Buffer.alloc(2000)
])()
const channel = () => pick([...ctx.channels, ctx.named])
const lockMode = () => pick(['shared', 'exclusive'])
const sharedMap = () => pick([ctx.map, ctx.mapAttached, ctx.namedMap])
const mapKey = () => pick([() => `k${below(12)}`, () => Buffer.from([below(4)]), () => 'é'.repeat(below(12))])()
const mapValue = () => pick([() => 'v'.repeat(below(80)), () => ({ n: below(9) }), () => Buffer.alloc(below(70)),
  () => String(below(100)), () => undefined])()
const mapOptions = () => pick([{ capacity: 4 }, { capacity: 2 ** 27 }, { evict: 'none', ttl: 5 },
  { maxKeyBytes: 0 }, { encoding: 'v8', maxValueBytes: 16 }, { ttl: -1 }, { evict: 'lfu' }])
const callback = () => pick([
  () => 1,
  () => { closeSomething(); return 2 },
  () => hostileThrow(),
  () => Promise.reject(new HostileError('rejected by the fuzzer')),
  () => { ctx.mutex.unlock() }
])

// ---- call sites ------------------------------------------------------------------------------

const sites = [
  ['create', () => shmem.create(v(uniqueName), v(size), v(() => ({ autoUnlink: true })))],
  ['open', () => shmem.open(v(() => ctx.posix.name), v(() => ({ size: 64 })))],
  ['openOrCreate', () => shmem.openOrCreate(v(uniqueName), v(size), v(() => ({ autoUnlink: true })))],
  ['unlink', () => shmem.unlink(v(uniqueName))],
  ['memfd', () => shmem.memfd(v(size), v(() => ({ name: 'x', seal: true })))],
  ['fromFd', () => shmem.fromFd(v(() => ctx.seg.fd), v(() => ({ size: 64, offset: 0 })))],
  ['mapFile', () => shmem.mapFile(v(() => path.join(registry, 'file')), v(() => ({ size: 64, create: true })))],
  ['sysv.create', () => shmem.sysv.create(null, v(size), v(() => ({ autoUnlink: true })))],
  ['sysv.open', () => shmem.sysv.open(v(() => 0x7ffffff0), {})],
  ['sysv.remove', () => shmem.sysv.remove(v(() => 0x7ffffff1))],
  ['map', () => shmem.map(v(size), v(() => 3), v(() => 0x21), v(() => null), v(() => 0), hostile())],
  ['list', () => shmem.list()],
  ['gc', () => shmem.gc({ dryRun: true })],
  ['segment.view', () => ctx.seg.view(v(() => pick([Int32Array, Buffer, DataView, BigUint64Array])), v(offset), v(() => 4))],
  ['segment.buffer', () => ctx.seg.buffer],
  ['segment.advise', () => ctx.seg.advise(v(() => pick(['normal', 'willneed', 'dontneed', 'bogus', 100])), v(offset), v(size))],
  ['segment.sync', () => ctx.posix.sync(v(() => ({ offset: 0, length: 64, async: true })))],
  ['segment.residency', () => ctx.seg.residency(v(() => ({ offset: 0, length: 4096 })))],
  ['segment.stat', () => pick(ctx.closeables.slice(0, 2)).stat()],
  ['segment.lock', () => ctx.posix.lock(v(lockMode), syncOptions())],
  ['segment.tryLock', () => ctx.posix.tryLock(v(lockMode))],
  ['segment.lockAsync', () => ctx.posix.lockAsync(v(lockMode), asyncOptions())],
  ['segment.unlock', () => ctx.posix.unlock()],
  ['segment.unlink', () => ctx.posix.unlink()],
  ['segment.close', () => pick(ctx.closeables.slice(0, 2)).close()],
  ['Mutex.init', () => shmem.Mutex.init(v(() => ctx.seg), v(offset))],
  ['Mutex.attach', () => shmem.Mutex.attach(v(() => ctx.seg), v(offset))],
  ['mutex.lock', () => ctx.mutex.lock(syncOptions())],
  ['mutex.tryLock', () => ctx.mutex.tryLock()],
  ['mutex.unlock', () => ctx.mutex.unlock()],
  ['mutex.lockAsync', () => ctx.mutex.lockAsync(asyncOptions())],
  ['mutex.withLock', () => ctx.mutex.withLock(v(callback), asyncOptions())],
  ['mutex.withLockSync', () => ctx.mutex.withLockSync(v(callback), syncOptions())],
  ['RwLock.attach', () => shmem.RwLock.attach(v(() => ctx.seg), v(offset))],
  ['rw.readLock', () => ctx.rw.readLock(syncOptions())],
  ['rw.writeLock', () => ctx.rw.writeLock(syncOptions())],
  ['rw.tryReadLock', () => ctx.rw.tryReadLock()],
  ['rw.tryWriteLock', () => ctx.rw.tryWriteLock()],
  ['rw.unlock', () => ctx.rw.unlock()],
  ['rw.readLockAsync', () => ctx.rw.readLockAsync(asyncOptions())],
  ['rw.withWriteLock', () => ctx.rw.withWriteLock(v(callback), asyncOptions())],
  ['Semaphore.init', () => shmem.Semaphore.init(v(() => ctx.seg), v(offset), v(() => 2))],
  ['sem.wait', () => ctx.sem.wait(syncOptions())],
  ['sem.tryWait', () => ctx.sem.tryWait()],
  ['sem.post', () => ctx.sem.post(v(() => 1))],
  ['sem.waitAsync', () => ctx.sem.waitAsync(asyncOptions())],
  ['lock garbage', () => {
    // Garbage in a lock's words (past its header, or over it), then a non-blocking call.
    const w = ctx.seg.view(Int32Array, pick([0, 1024, 2048]), 16)
    w[1 + below(15)] = pick([0, -1, process.pid, rand() | 0, rand() % 4194304, 1 << 30])
    return pick([() => ctx.mutex.tryLock(), () => ctx.rw.tryWriteLock(), () => ctx.rw.tryReadLock(),
      () => ctx.sem.tryWait(), () => ctx.mutex.unlock(), () => ctx.rw.unlock(), () => ctx.sem.post()])()
  }],
  ['wait', () => shmem.wait(v(() => ctx.i32), v(() => below(64)), v(() => 1), waitTimeout())],
  ['waitAsync', () => shmem.waitAsync(v(() => ctx.i32), v(() => below(64)), v(() => 1), waitTimeout())],
  ['notify', () => shmem.notify(v(() => ctx.i32), v(() => below(64)), hostile())],
  ['Channel.byteLength', () => shmem.Channel.byteLength(v(() => ({ kind: 'mpmc', capacity: 100 })))],
  ['Channel.create', () => shmem.Channel.create(v(uniqueName), v(() => ({ kind: 'spsc', capacity: 64, autoUnlink: true })))],
  ['Channel.open', () => shmem.Channel.open(v(() => ctx.named.segment.name))],
  ['Channel.init', () => shmem.Channel.init(v(() => ctx.seg), v(() => 32768), v(() => 448), v(() => ({ kind: 'mpsc', capacity: 64 })))],
  ['Channel.attach', () => shmem.Channel.attach(v(() => ctx.seg), v(() => pick([CHANNEL_OFF, 0, 64])))],
  ['channel.send', () => channel().send(v(data))],
  ['channel.sendSync', () => channel().sendSync(v(data), syncOptions())],
  ['channel.sendAsync', () => channel().sendAsync(v(data), asyncOptions())],
  ['channel.receive', () => channel().receive()],
  ['channel.receiveInto', () => channel().receiveInto(v(() => Buffer.alloc(below(100))))],
  ['channel.receiveSync', () => channel().receiveSync(syncOptions())],
  ['channel.receiveAsync', () => channel().receiveAsync(asyncOptions())],
  ['channel.reserve', () => {
    const c = channel()
    const b = c.reserve(v(() => below(100)))
    if (b !== null && chance(0.5)) b.fill(1)
    return pick([() => c.commit(v(() => below(100))), () => c.abort(), () => null])()
  }],
  ['channel.peek', () => {
    const c = channel()
    const b = c.peek()
    if (b !== null && chance(0.5)) b.readUInt8(0)
    return pick([() => c.release(), () => c.peekSync(syncOptions()), () => null])()
  }],
  ['channel.stats', () => channel().stats()],
  ['channel.close', () => channel().close()],
  ['channel garbage', () => {
    // A peer writes a word of a channel's header or ring.
    const w = ctx.seg.view(Int32Array, CHANNEL_OFF + below(3) * 2048, CHANNEL_BYTES / 4)
    w[below(w.length)] = pick([0, -1, 0x43, 0x52, 0x53, 0x41, rand() | 0, 1 << below(31)])
    const c = channel()
    return pick([() => c.receive(), () => c.send('x'), () => c.peek(), () => c.stats(),
      () => c.receiveSync({ timeout: 0 }), () => shmem.Channel.attach(ctx.seg, CHANNEL_OFF)])()
  }],
  ['SharedMap.byteLength', () => shmem.SharedMap.byteLength(v(mapOptions))],
  ['SharedMap.create', () => shmem.SharedMap.create(v(uniqueName), v(() => ({ ...mapOptions(), autoUnlink: true })))],
  ['SharedMap.open', () => shmem.SharedMap.open(v(() => ctx.namedMap.segment.name))],
  ['SharedMap.openOrCreate', () => {
    // The context's map, or a new one under its name when a close removed it (autoUnlink):
    // the name goes now, or a map made without autoUnlink would outlive the run.
    const m = shmem.SharedMap.openOrCreate(v(() => ctx.namedMap.segment.name), v(mapOptions))
    try { shmem.unlink(m.segment.name) } catch {}
    return m
  }],
  ['SharedMap.init', () => shmem.SharedMap.init(v(() => ctx.seg), v(() => pick([MAP_OFF + 2048, 48000, 32])), v(() => MAP_BYTES), v(() => MAP_OPTIONS))],
  ['SharedMap.attach', () => shmem.SharedMap.attach(v(() => ctx.seg), v(() => pick([MAP_OFF, 0, 64, CHANNEL_OFF])))],
  ['sharedMap.get', () => sharedMap().get(v(mapKey))],
  ['sharedMap.getInto', () => sharedMap().getInto(v(mapKey), v(() => Buffer.alloc(below(100))))],
  ['sharedMap.has', () => sharedMap().has(v(mapKey))],
  ['sharedMap.set', () => sharedMap().set(v(mapKey), v(mapValue), v(() => ({ ttl: below(3) })))],
  ['sharedMap.delete', () => sharedMap().delete(v(mapKey))],
  ['sharedMap.update', () => sharedMap().update(v(mapKey), v(() => pick([callback(), () => 'u', () => undefined])), v(() => ({ ttl: 1 })))],
  ['sharedMap.increment', () => sharedMap().increment(v(mapKey), v(() => pick([1, -3, 2 ** 53])))],
  ['sharedMap.clear', () => sharedMap().clear()],
  ['sharedMap.purgeStale', () => sharedMap().purgeStale()],
  ['sharedMap.stats', () => sharedMap().stats()],
  ['sharedMap.size', () => sharedMap().size],
  ['sharedMap.entries', () => [...sharedMap().entries()]],
  ['sharedMap.close', () => sharedMap().close()],
  ['map garbage', () => {
    // A peer writes words of the map's header, index or entries (sometimes many at once). The
    // lock word (bytes 128 to 135) gets only pids no process has: one naming a live process
    // makes writers wait out their 10 s lock timeout, as documented (docs/map-format.md).
    const w = ctx.seg.view(Int32Array, MAP_OFF, MAP_BYTES >> 2)
    for (let n = chance(0.2) ? 64 : 1; n > 0; n--) {
      const i = chance(0.4) ? below(80) : below(w.length)
      w[i] = i === 32 ? pick([0, 0x3ffffff0, 0x7ffffffe])
        : pick([0, -1, 1, 2, 7, 0x50414d53, rand() | 0, 1 << below(31)])
    }
    const m = pick([ctx.map, ctx.mapAttached])
    return pick([() => m.get(mapKey()), () => m.set(mapKey(), 'x'), () => m.delete(mapKey()), () => m.has('k1'),
      () => [...m], () => m.stats(), () => m.increment('n'), () => m.clear(), () => m.update('k2', () => 'y'),
      () => m.purgeStale(), () => shmem.SharedMap.attach(ctx.seg, MAP_OFF)])()
  }],
  ['parseRecord', () => lifecycle._parsersForTests.parseRecord(randomRecordText())],
  ['parseSysvTable', () => lifecycle._parsersForTests.parseSysvTable(randomSysvText())],
  ['registry file', () => {
    fs.writeFileSync(path.join(registry, `${below(1000)}-1-0.${below(9)}-posix.json`), randomRecordText())
    return pick([() => shmem.list(), () => shmem.gc({ dryRun: true })])()
  }],
  ['sta.create', () => compat.sta.create(v(() => 16), v(() => 'Int32Array'), v(() => 0x7ffffff2))],
  ['sta.get', () => compat.sta.get(v(() => 0x7ffffff2), hostile())],
  ['sta.detach', () => compat.sta.detach(v(() => 0x7ffffff2), v(() => true))],
  ['mmapIo.map', () => compat.mmapIo.map(v(() => 4096), v(() => 3), v(() => 1), v(() => ctx.seg.fd), v(() => 0), hostile())],
  ['mmapIo.advise', () => compat.mmapIo.advise(v(() => ctx.seg.buffer), hostile(), hostile())],
  ['mmapIo.sync', () => compat.mmapIo.sync(v(() => ctx.seg.buffer), hostile(), hostile())],
  ['mmapIo.incore', () => compat.mmapIo.incore(v(() => ctx.seg.buffer))],
  ['MmapIpc', () => {
    const m = new compat.MmapIpc(v(() => uniqueName().slice(1)), v(() => 4096), hostile())
    try {
      return pick([() => m.buffer(), () => m.acquireReadLock(), () => m.acquireWriteLock(),
        () => m.removeLock(), () => m.acquireWriteLockAsync(asyncOptions())])()
    } finally {
      m.close(); m.unlink()
    }
  }],
  ['shmmap', () => {
    const key = compat.shmmap.create(v(() => 4096))
    return pick([() => compat.shmmap.read(key, hostile()), () => compat.shmmap.read_write(v(() => key), hostile()),
      () => compat.shmmap.release(v(() => key))])()
  }]
]

function randomSysvText () {
  const base = 'key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime ctime\n 0 1 600 4096 2 3 0 0 0 0 0 0 0 0\n'
  const chars = base.split('')
  const edits = below(6)
  for (let i = 0; i < edits; i++) {
    const at = below(chars.length + 1)
    switch (below(4)) {
      case 0: chars.splice(at, below(20)); break
      case 1: chars.splice(at, 0, pick([')', '(', ' ', '\n', '\0', 'Z', '-', '9'.repeat(30), 'e', '\t'])); break
      case 2: chars[at] = String.fromCharCode(below(0x110)); break
      default: chars.length = at
    }
  }
  return chars.join('')
}

function randomRecordText () {
  const r = {
    format: 'shmem.lifecycle',
    version: 1,
    kind: pick(['posix', 'sysv', 'x']),
    pid: v(() => 1 + below(100000)),
    startTime: v(() => below(1e6)),
    uid: v(() => 0),
    bootId: v(() => 'b'),
    pidNs: v(() => 'p'),
    createdMs: v(() => Date.now()),
    name: v(() => pick(['/a', 'a/b', '..', '/'.repeat(300), '/x\0'])),
    ino: v(() => below(1e6)),
    dev: v(() => below(10)),
    birthtimeMs: v(() => 1.5),
    id: v(() => below(1e6)),
    key: v(() => rand() | 0),
    cpid: v(() => below(1e5)),
    ipcNs: v(() => 'i')
  }
  let text
  try { text = JSON.stringify(r, (k, val) => typeof val === 'bigint' ? String(val) : val) } catch { text = '{}' }
  if (chance(0.3)) text = text.slice(0, below(text.length + 1))
  if (chance(0.1)) text = pick(['null', '[]', '"x"', '{"__proto__":{"format":"shmem.lifecycle"}}', '1e999'])
  return text
}

// ---- workers terminated mid-call ----------------------------------------------------------

const workerCode = `
const { workerData, parentPort } = require('worker_threads')
const shmem = require(workerData.root)
const seg = shmem.fromFd(workerData.fd)
parentPort.postMessage('ready')
try {
  switch (workerData.what) {
    case 0: shmem.Mutex.attach(seg, 0).lock({ timeout: 3000 }); break
    case 1: shmem.Semaphore.attach(seg, 2048).wait({ timeout: 3000 }); break
    case 2: shmem.Channel.attach(seg, ${CHANNEL_OFF + 2 * 2048}).receiveSync({ timeout: 3000 }); break
    case 3: shmem.wait(seg.view(Int32Array, 16384, 4), 0, 0, 3000); break
    case 4: shmem.RwLock.attach(seg, 1024).writeLock({ timeout: 3000 }); break
    default: shmem.Mutex.attach(seg, 0).lockAsync({ timeout: 3000 }).catch(() => {})
  }
} catch (err) {
  if (typeof err.code !== 'string') parentPort.postMessage({ codeless: String(err && err.stack) })
}
`

async function workerRound (c) {
  // The resources the worker blocks on: the mutex held, the semaphore empty, the mpmc
  // channel empty, the wait word 0, the rwlock read-held.
  const seg = shmem.memfd(65536)
  const mutex = shmem.Mutex.init(seg, 0)
  const rw = shmem.RwLock.init(seg, 1024)
  shmem.Semaphore.init(seg, 2048, 0)
  const ch = shmem.Channel.init(seg, CHANNEL_OFF + 2 * 2048, CHANNEL_BYTES, { kind: 'mpmc', capacity: 1024 })
  mutex.lock()
  rw.readLock()
  const what = below(6)
  site = `worker terminated mid-call (${what})`
  const worker = new Worker(workerCode, { eval: true, workerData: { root, fd: seg.fd, what } })
  worker.on('message', (m) => { if (m && m.codeless) report('codeless', { message: m.codeless }) })
  worker.on('error', (err) => judge(err))
  await new Promise((resolve) => worker.once('message', resolve))
  await new Promise((resolve) => setTimeout(resolve, below(20)))
  await worker.terminate()
  // The locks and the channel still work for this thread.
  mutex.unlock()
  rw.unlock()
  if (mutex.tryLock() !== true) report('lock-unusable-after-terminate', { message: `case ${what}` })
  mutex.unlock()
  ch.send('after')
  if (ch.receive() === null) report('channel-unusable-after-terminate', { message: `case ${what}` })
  ch.close()
  seg.close()
}

// ---- the run -------------------------------------------------------------------------------

// An error nobody could catch (thrown from a listener or a callback of the package) would end
// a real program: report it, and go on to find more.
process.on('uncaughtException', (err) => report('uncaught', err))
process.on('unhandledRejection', (err) => report('unhandled-rejection', err))

async function main () {
  const started = Date.now()
  let calls = 0
  let thrown = 0
  let pending = []
  const settle = async () => {
    const all = Promise.allSettled(pending)
    let timer
    const hung = new Promise((resolve) => { timer = setTimeout(() => resolve('hung'), 5000) })
    const r = await Promise.race([all, hung])
    clearTimeout(timer)
    if (r === 'hung') {
      report('promise-never-settled', { message: `one of ${pending.length} pending calls` })
      process.stdout.write(JSON.stringify({ done: false, calls, hung: true }) + '\n')
      process.exit(3)
    }
    pending = []
  }
  ctx = freshContext()
  for (let i = 0; i < totalCalls; i++) {
    const [name, fn] = sites[below(sites.length)]
    site = name
    fakeUsed = false
    calls++
    try {
      const r = fn()
      if (r && typeof r.then === 'function') {
        const fake = fakeUsed
        pending.push(r.then(() => {}, (err) => judge(err, name, fake)))
      }
      else if (r && typeof r.close === 'function' && r !== ctx.seg && r !== ctx.posix) {
        // Segments and channels a call made: close them (and their names) now.
        try { r.close() } catch (err) { judge(err) }
        try { if (r.kind === 'sysv') r.remove(); else if (r.kind === 'posix') r.unlink() } catch {}
        // A channel or map a create made under its own name (hostile options may have left
        // out autoUnlink): its name goes too, unless it is the context's.
        try {
          const name = r.segment && r.segment.kind === 'posix' ? r.segment.name : null
          if (name !== null && name !== ctx.named.segment.name && name !== ctx.namedMap.segment.name) {
            shmem.unlink(name)
          }
        } catch {}
      }
    } catch (err) {
      thrown++
      judge(err)
    }
    if (i % 50 === 49) {
      // Let waiter threads and timers run, close everything (pending calls must settle) and
      // start again on fresh resources.
      await new Promise((resolve) => setImmediate(resolve))
      closeContext(ctx)
      await settle()
      ctx = freshContext()
    }
  }
  closeContext(ctx)
  await settle()
  try { compat.sta.detach(0x7ffffff2, true) } catch {}
  try { shmem.sysv.remove(0x7ffffff1) } catch {}
  for (let i = 0; i < workerRounds; i++) await workerRound()
  fs.rmSync(registry, { recursive: true, force: true })
  sweepNames()
  const summary = { done: true, seed, calls, thrown, userObjectErrors, workers: workerRounds, findings: findings.length, ms: Date.now() - started }
  process.stdout.write(JSON.stringify(summary) + '\n')
}

// What the loop's own clean-up cannot reach: objects a create made before it threw, and
// compat/shmmap keys made in workers that terminate() ended, which stay by design
// (docs/lifecycle.md). All carry this pid.
function sweepNames () {
  for (const n of fs.readdirSync('/dev/shm')) {
    if (n.startsWith(`shmem-fuzz-${process.pid}-`) || n.startsWith(`shmmap-${process.pid}-`)) {
      try { fs.unlinkSync(path.join('/dev/shm', n)) } catch {}
    }
  }
}

main().then(() => process.exit(0), (err) => {
  process.stdout.write(JSON.stringify({ internal: String(err && err.stack) }) + '\n')
  process.exit(1)
})
