'use strict'
// The Segment API within one process: each kind, its properties, buffer and views, the memory
// controls, stat, close and unlink.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const path = require('path')
const { shmem, uniqueName, trackPosix, trackSysv, tempDir, cleanup } = require('./helpers')

after(cleanup)

test('create, open, openOrCreate and unlink a POSIX object', () => {
  const name = trackPosix(uniqueName('posix'))
  const a = shmem.create(name, 8192)
  assert.equal(a.name, name)
  assert.equal(a.kind, 'posix')
  assert.equal(a.size, 8192)
  assert.equal(a.readOnly, false)
  assert.equal(a.created, true)
  assert.equal(a.closed, false)
  assert.equal(typeof a.fd, 'number')
  assert.equal(a.key, null)
  assert.equal(a.id, null)
  assert.ok(fs.existsSync(`/dev/shm${name}`))

  a.buffer.write('from a', 100)
  const b = shmem.open(name.slice(1)) // 'x' and '/x' are the same object
  assert.equal(b.name, name)
  assert.equal(b.created, false)
  assert.equal(b.size, 8192)
  assert.equal(b.buffer.toString('utf8', 100, 106), 'from a')
  b.buffer.write('from b', 200)
  assert.equal(a.buffer.toString('utf8', 200, 206), 'from b')

  const c = shmem.openOrCreate(name, 4096)
  assert.equal(c.created, false)
  assert.equal(c.size, 4096, 'openOrCreate maps the size asked for')
  assert.equal(c.buffer.toString('utf8', 100, 106), 'from a')

  assert.throws(() => shmem.create(name, 4096), { code: 'EEXIST', syscall: 'shm_open', path: name })
  for (const s of [a, b, c]) s.close()
  assert.equal(shmem.unlink(name), true)
  assert.equal(shmem.unlink(name), false)
  assert.ok(!fs.existsSync(`/dev/shm${name}`))

  const d = shmem.openOrCreate(name, 4096)
  assert.equal(d.created, true)
  assert.equal(d.unlink(), true)
  assert.equal(d.unlink(), false)
  d.close()
})

test('mode defaults to 0o600 and is applied (less the umask)', () => {
  const name = trackPosix(uniqueName('mode'))
  const old = process.umask(0)
  try {
    const a = shmem.create(name, 4096)
    assert.equal(a.stat().mode, 0o600)
    assert.equal(fs.statSync(`/dev/shm${name}`).mode & 0o777, 0o600)
    a.close()
    a.unlink()
    const b = shmem.create(name, 4096, { mode: '640' })
    assert.equal(b.stat().mode, 0o640)
    b.close()
    b.unlink()
  } finally {
    process.umask(old)
  }
})

test('buffer is one Buffer over the whole mapping; view() gives every view type', () => {
  const name = trackPosix(uniqueName('view'))
  const s = shmem.create(name, 4096)
  assert.ok(Buffer.isBuffer(s.buffer))
  assert.equal(s.buffer, s.buffer, 'the same object every time')
  assert.equal(s.buffer.length, 4096)
  assert.equal(s.arrayBuffer, s.arrayBuffer)
  assert.equal(s.arrayBuffer.byteLength, 4096)
  assert.equal(s.buffer.buffer, s.arrayBuffer)

  const i32 = s.view(Int32Array, 16, 4)
  assert.ok(i32 instanceof Int32Array)
  assert.equal(i32.length, 4)
  assert.equal(i32.buffer, s.arrayBuffer, 'views share the one ArrayBuffer')
  i32[1] = 0x01020304
  assert.equal(s.buffer.readInt32LE(20), 0x01020304)

  const all = s.view(Float64Array)
  assert.equal(all.length, 512)
  const tail = s.view(Uint16Array, 4094)
  assert.equal(tail.length, 1)
  const odd = s.view(Uint32Array, 4088)
  assert.equal(odd.length, 2, 'the default length is as many elements as fit')

  const dv = s.view(DataView, 8, 8)
  assert.ok(dv instanceof DataView)
  dv.setBigUint64(0, 0x1122334455667788n, true)
  assert.equal(s.view(BigUint64Array, 8, 1)[0], 0x1122334455667788n)

  const buf = s.view(Buffer, 100, 10)
  assert.ok(Buffer.isBuffer(buf))
  assert.equal(buf.length, 10)
  buf.write('abcdefghij')
  assert.equal(s.buffer.toString('latin1', 100, 110), 'abcdefghij')

  for (const T of [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
    Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array]) {
    const v = s.view(T, 0, 2)
    assert.ok(v instanceof T)
    assert.equal(v.byteLength, 2 * T.BYTES_PER_ELEMENT)
  }
  assert.equal(s.view(Uint8Array, 4096).length, 0)
  s.close()
})

test('Atomics on a view are real atomics on the shared memory', () => {
  const name = trackPosix(uniqueName('atomics'))
  const a = shmem.create(name, 4096)
  const b = shmem.open(name)
  const va = a.view(Int32Array)
  const vb = b.view(Int32Array)
  for (let i = 0; i < 1000; i++) Atomics.add(i % 2 ? va : vb, 3, 1)
  assert.equal(Atomics.load(va, 3), 1000)
  assert.equal(Atomics.compareExchange(vb, 3, 1000, 5), 1000)
  assert.equal(va[3], 5)
  a.close()
  b.close()
})

test('readOnly opens map the memory read-only', () => {
  const name = trackPosix(uniqueName('ro'))
  const a = shmem.create(name, 4096)
  a.buffer.write('hello')
  const r = shmem.open(name, { readOnly: true })
  assert.equal(r.readOnly, true)
  assert.equal(r.buffer.toString('utf8', 0, 5), 'hello')
  a.close()
  r.close()
})

test('open() with options.size maps only that much; larger than the object is ERR_OUT_OF_RANGE', () => {
  const name = trackPosix(uniqueName('size'))
  const a = shmem.create(name, 3 * 4096)
  const b = shmem.open(name, { size: 100 })
  assert.equal(b.size, 100)
  assert.equal(b.buffer.length, 100)
  assert.throws(() => shmem.open(name, { size: 3 * 4096 + 1 }),
    { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => shmem.openOrCreate(name, 4 * 4096),
    { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' })
  assert.equal(a.stat().size, 3 * 4096, 'openOrCreate never truncates')
  a.close()
  b.close()
})

test('memfd: size, seal, name, and fromFd on its fd', () => {
  const m = shmem.memfd(3 * 4096, { name: 'shmem-test-memfd', seal: true })
  assert.equal(m.kind, 'memfd')
  assert.equal(m.name, 'shmem-test-memfd')
  assert.equal(m.size, 3 * 4096)
  assert.equal(m.created, true)
  assert.match(fs.readlinkSync(`/proc/self/fd/${m.fd}`), /^\/memfd:shmem-test-memfd/)
  assert.throws(() => fs.ftruncateSync(m.fd, 4096), { code: 'EPERM' }, 'the size is sealed')
  m.buffer.write('memfd data')

  const again = shmem.fromFd(m.fd)
  assert.equal(again.kind, 'memfd')
  assert.equal(again.name, 'shmem-test-memfd')
  assert.notEqual(again.fd, m.fd, 'the segment holds its own fd')
  assert.equal(again.created, false)
  assert.equal(again.buffer.toString('utf8', 0, 10), 'memfd data')
  const part = shmem.fromFd(m.fd, { offset: 4096, size: 4096 })
  part.buffer.write('second page')
  assert.equal(m.buffer.toString('utf8', 4096, 4107), 'second page')
  assert.throws(() => shmem.fromFd(m.fd, { offset: 4096, size: 3 * 4096 }),
    { code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => m.unlink(), { code: 'ERR_SHMEM_UNSUPPORTED' })
  for (const s of [m, again, part]) s.close()

  const plain = shmem.memfd(4096)
  assert.equal(plain.name, 'shmem')
  fs.ftruncateSync(plain.fd, 8192) // not sealed
  plain.close()
})

test('fromFd on a POSIX object fd and a file fd; a read-only fd gives a read-only segment', () => {
  const name = trackPosix(uniqueName('fromfd'))
  const a = shmem.create(name, 4096)
  a.buffer.write('posix via fd')
  const viaFd = shmem.fromFd(a.fd)
  assert.equal(viaFd.kind, 'posix')
  assert.equal(viaFd.name, name)
  assert.equal(viaFd.buffer.toString('utf8', 0, 12), 'posix via fd')
  viaFd.close()

  const fd = fs.openSync(`/dev/shm${name}`, 'r')
  try {
    const ro = shmem.fromFd(fd)
    assert.equal(ro.readOnly, true)
    assert.equal(ro.buffer.toString('utf8', 0, 12), 'posix via fd')
    ro.close()
  } finally {
    fs.closeSync(fd)
  }

  const dir = tempDir()
  const file = path.join(dir, 'f.bin')
  fs.writeFileSync(file, Buffer.alloc(8192, 7))
  const ffd = fs.openSync(file, 'r+')
  const f = shmem.fromFd(ffd)
  fs.closeSync(ffd) // the segment holds its own fd
  assert.equal(f.kind, 'file')
  assert.equal(f.size, 8192)
  assert.equal(f.buffer[8191], 7)
  f.close()
  a.close()
})

test('mapFile: create, extend, offset, private, readOnly, sync', () => {
  const dir = tempDir()
  const file = path.join(dir, 'data.bin')
  assert.throws(() => shmem.mapFile(file), { code: 'ENOENT', syscall: 'open', path: file })

  const a = shmem.mapFile(file, { size: 10000, create: true })
  assert.equal(a.kind, 'file')
  assert.equal(a.name, file)
  assert.equal(a.created, true)
  assert.equal(fs.statSync(file).size, 10000)
  a.buffer.write('file contents', 5000)
  a.sync()
  assert.equal(fs.readFileSync(file).toString('utf8', 5000, 5013), 'file contents')

  const b = shmem.mapFile(file, { offset: 5000, size: 13 }) // offset need not be page-aligned
  assert.equal(b.created, false)
  assert.equal(b.buffer.toString(), 'file contents')
  b.close()

  const grown = shmem.mapFile(file, { size: 20000, create: true })
  assert.equal(grown.created, false)
  assert.equal(fs.statSync(file).size, 20000, 'create extends a short file')
  grown.close()
  const small = shmem.mapFile(file, { size: 100, create: true })
  assert.equal(fs.statSync(file).size, 20000, 'create never truncates')
  small.close()

  const p = shmem.mapFile(file, { private: true })
  p.buffer.write('PRIVATE!', 5000)
  assert.equal(p.buffer.toString('utf8', 5000, 5008), 'PRIVATE!')
  assert.equal(a.buffer.toString('utf8', 5000, 5008), 'file con', 'private writes stay private')
  p.close()

  const r = shmem.mapFile(file, { readOnly: true, offset: 5000, size: 4 })
  assert.equal(r.readOnly, true)
  assert.equal(r.buffer.toString(), 'file')
  r.close()

  assert.throws(() => shmem.mapFile(file, { size: 20001 }), { code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => shmem.mapFile(file, { offset: 20000 }), { code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => shmem.mapFile(dir), { code: 'EISDIR' })
  a.sync({ async: true })
  a.sync({ offset: 4096, length: 10, invalidate: true })
  a.close()
  const url = shmem.mapFile(new URL(`file://${file}`), { size: 4 })
  assert.equal(url.size, 4)
  url.close()
})

test('System V: create with a fresh key, open by key, stat, remove', () => {
  const a = shmem.sysv.create(null, 10000)
  trackSysv(a.key)
  assert.equal(a.kind, 'sysv')
  assert.equal(a.name, null)
  assert.equal(a.fd, null)
  assert.ok(Number.isInteger(a.key) && a.key !== 0)
  assert.ok(Number.isInteger(a.id) && a.id >= 0)
  assert.equal(a.size, 10000)
  assert.equal(a.created, true)
  a.buffer.write('sysv!', 9000)

  const b = shmem.sysv.open(a.key)
  assert.equal(b.created, false)
  assert.equal(b.id, a.id)
  assert.equal(b.size, 10000)
  assert.equal(b.buffer.toString('utf8', 9000, 9005), 'sysv!')
  const st = b.stat()
  assert.equal(st.nattch, 2)
  assert.equal(st.size, 10000)
  assert.equal(st.cpid, process.pid)
  assert.equal(st.mode, 0o600)
  assert.equal(st.key, a.key)

  assert.throws(() => shmem.sysv.create(a.key, 100), { code: 'EEXIST', syscall: 'shmget' })
  assert.throws(() => shmem.sysv.open(a.key, { size: 10001 }), { code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => a.unlink(), { code: 'ERR_SHMEM_UNSUPPORTED' })
  assert.equal(a.remove(), true)
  assert.equal(a.remove(), false, 'already removed, though still attached')
  assert.equal(b.buffer.toString('utf8', 9000, 9005), 'sysv!', 'attached mappings live on')
  assert.equal(shmem.sysv.remove(a.key), false)
  a.close()
  b.close()

  const key = 0x5e000000 + (process.pid % 0xffffff)
  trackSysv(key)
  const c = shmem.sysv.create(key, 4096, { mode: 0o640 })
  assert.equal(c.key, key)
  assert.equal(c.stat().mode, 0o640)
  c.close()
  assert.equal(shmem.sysv.remove(key), true)
  assert.throws(() => shmem.sysv.open(key), { code: 'ENOENT' })
})

test('advise, residency, populate, lockMemory', () => {
  const name = trackPosix(uniqueName('mem'))
  const pages = 16
  const s = shmem.create(name, pages * shmem.pageSize)
  assert.deepEqual(s.residency(), { residentPages: 0, totalPages: pages })
  s.buffer.fill(1, 0, 4 * shmem.pageSize)
  assert.deepEqual(s.residency(), { residentPages: 4, totalPages: pages })
  assert.deepEqual(s.residency({ offset: 0, length: 2 * shmem.pageSize }),
    { residentPages: 2, totalPages: 2 })
  for (const advice of ['normal', 'random', 'sequential', 'willneed', 'hugepage', 'nohugepage',
    'dontneed', shmem.constants.MADV_NORMAL]) {
    s.advise(advice)
  }
  s.advise('willneed', shmem.pageSize, 10)
  s.lockMemory()
  s.unlockMemory()
  s.lockMemory({ onFault: true })
  s.unlockMemory()
  s.close()

  const p = shmem.open(name, { populate: true })
  assert.deepEqual(p.residency(), { residentPages: pages, totalPages: pages })
  p.close()
  const q = shmem.create(trackPosix(uniqueName('pop')), 8 * shmem.pageSize,
    { populate: true, lockMemory: 'onfault' })
  assert.equal(q.residency().residentPages, 8)
  q.close()
  q.unlink()
  const l = shmem.memfd(4 * shmem.pageSize, { lockMemory: true })
  // Under npm run test:sanitize, AddressSanitizer makes mlock(2) a no-op: no pages come in.
  if (!process.env.SHMEM_SANITIZE) {
    assert.equal(l.residency().residentPages, 4, 'mlock faults the pages in')
  }
  l.close()
})

test('hugePages: a clear error when none are reserved, or a working segment when some are', () => {
  const free = Number(/HugePages_Free:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))[1])
  const size = shmem.hugePageSize
  if (size === 0) return
  assert.throws(() => shmem.create(uniqueName('huge'), size, { hugePages: true }),
    { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => shmem.memfd(size + 4096, { hugePages: true }),
    { name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' })
  if (free === 0) {
    assert.throws(() => shmem.memfd(size, { hugePages: true }),
      { code: 'ERR_SHMEM_NO_HUGEPAGES', message: /vm\.nr_hugepages/ })
    assert.throws(() => shmem.sysv.create(null, size, { hugePages: true }),
      { code: 'ERR_SHMEM_NO_HUGEPAGES' })
    assert.throws(() => shmem.map(size, shmem.constants.PROT_READ | shmem.constants.PROT_WRITE,
      shmem.constants.MAP_PRIVATE | shmem.constants.MAP_ANONYMOUS |
      shmem.constants.MAP_HUGETLB, -1), { code: 'ERR_SHMEM_NO_HUGEPAGES' })
  } else {
    const m = shmem.memfd(size, { hugePages: true })
    m.buffer[size - 1] = 1
    m.close()
  }
})

test('close() is idempotent; the name outlives it; use after close is ERR_SHMEM_CLOSED', () => {
  const name = trackPosix(uniqueName('close'))
  const s = shmem.create(name, 4096)
  const buf = s.buffer
  const view = s.view(Float64Array, 8, 2)
  const dv = s.view(DataView)
  s.close()
  s.close()
  assert.equal(s.closed, true)
  assert.equal(s.fd, null)
  assert.equal(buf.length, 0)
  assert.equal(view.length, 0)
  assert.throws(() => dv.byteLength, TypeError, 'V8 refuses a detached DataView')
  assert.throws(() => dv.getUint8(0), TypeError)
  for (const use of [() => s.buffer, () => s.arrayBuffer, () => s.view(Uint8Array),
    () => s.advise('normal'), () => s.sync(), () => s.residency(), () => s.lockMemory(),
    () => s.unlockMemory(), () => s.stat()]) {
    assert.throws(use, { code: 'ERR_SHMEM_CLOSED', message: new RegExp(name) })
  }
  assert.equal(s.size, 4096, 'metadata stays readable')
  assert.equal(s.unlink(), true, 'unlink works after close')
  const t = shmem.create(trackPosix(uniqueName('dispose')), 4096)
  assert.equal(typeof t[Symbol.dispose], 'function')
  t[Symbol.dispose]()
  assert.equal(t.closed, true, 'Symbol.dispose closes')
  t.unlink()
})

test('Segment cannot be constructed directly; inspect shows the essentials', () => {
  assert.throws(() => new shmem.Segment(), { code: 'ERR_ILLEGAL_CONSTRUCTOR' })
  const s = shmem.memfd(4096)
  assert.match(require('util').inspect(s), /Segment \{ name: 'shmem', kind: 'memfd', size: 4096/)
  s.close()
})

test('constants and pageSize', () => {
  const c = shmem.constants
  for (const k of ['PROT_READ', 'PROT_WRITE', 'PROT_EXEC', 'PROT_NONE', 'MAP_SHARED', 'MAP_PRIVATE',
    'MAP_ANONYMOUS', 'MAP_POPULATE', 'MAP_NORESERVE', 'MAP_HUGETLB', 'MADV_NORMAL', 'MADV_RANDOM',
    'MADV_SEQUENTIAL', 'MADV_WILLNEED', 'MADV_DONTNEED', 'MADV_HUGEPAGE', 'MS_ASYNC', 'MS_SYNC',
    'MS_INVALIDATE', 'IPC_PRIVATE', 'IPC_CREAT', 'IPC_EXCL', 'IPC_RMID', 'IPC_STAT']) {
    assert.equal(typeof c[k], 'number', k)
  }
  assert.equal(c.PROT_READ, 1)
  assert.equal(c.MAP_SHARED, 1)
  assert.ok(Object.isFrozen(c))
  assert.equal(shmem.pageSize, 4096)
})

test('the ESM entry point exports the same API', async () => {
  const esm = await import('../index.mjs')
  assert.equal(esm.create, shmem.create)
  assert.equal(esm.sysv, shmem.sysv)
  assert.equal(esm.default, shmem)
})
