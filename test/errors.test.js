'use strict'
// Bad inputs, each with its documented error. The table runs in this process (every case
// must throw, never crash); the binding's own checks run in a child.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const { constants: { MAX_LENGTH } } = require('buffer')
const path = require('path')
const { shmem, uniqueName, trackPosix, tempDir, cleanup, runSnippet } = require('./helpers')

after(cleanup)

const TYPE = { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }
const VALUE = { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }
const VALUE_RANGE = { name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' }
const RANGE = { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }
const CLOSED = { name: 'Error', code: 'ERR_SHMEM_CLOSED' }
const UNSUPPORTED = { name: 'Error', code: 'ERR_SHMEM_UNSUPPORTED' }

test('bad inputs each give their documented error', () => {
  const name = trackPosix(uniqueName('bad'))
  const seg = shmem.create(name, 8192)
  const closed = shmem.memfd(4096)
  closed.close()
  const dir = tempDir()
  const small = path.join(dir, 'small.bin')
  fs.writeFileSync(small, Buffer.alloc(100))
  const { PROT_READ, PROT_WRITE, PROT_NONE, MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS } =
    shmem.constants
  const RW = PROT_READ | PROT_WRITE

  const table = [
    // wrong types
    ['create(number name)', () => shmem.create(123, 4096), TYPE],
    ['create(string size)', () => shmem.create(uniqueName(), '4096'), TYPE],
    ['create(options not an object)', () => shmem.create(uniqueName(), 4096, 'rw'), TYPE],
    ['create(readOnly not a boolean)', () => shmem.create(uniqueName(), 4096, { readOnly: 1 }), TYPE],
    ['create(populate not a boolean)', () => shmem.create(uniqueName(), 4096, { populate: 'yes' }), TYPE],
    ['create(lockMemory odd)', () => shmem.create(uniqueName(), 4096, { lockMemory: 'always' }), VALUE],
    ['open(null)', () => shmem.open(null), TYPE],
    ['open(size string)', () => shmem.open(name, { size: '10' }), TYPE],
    ['unlink(undefined)', () => shmem.unlink(), TYPE],
    ['memfd(string size)', () => shmem.memfd('4096'), TYPE],
    ['memfd(name number)', () => shmem.memfd(4096, { name: 5 }), TYPE],
    ['memfd(seal string)', () => shmem.memfd(4096, { seal: 'yes' }), TYPE],
    ['fromFd(string)', () => shmem.fromFd('3'), TYPE],
    ['mapFile(number)', () => shmem.mapFile(42), TYPE],
    ['mapFile(create string)', () => shmem.mapFile(small, { create: 'yes' }), TYPE],
    ['sysv.create(string key)', () => shmem.sysv.create('k', 4096), TYPE],
    ['sysv.open(undefined)', () => shmem.sysv.open(), TYPE],
    ['sysv.remove(object)', () => shmem.sysv.remove({}), TYPE],
    ['view(string type)', () => seg.view('Uint8Array'), TYPE],
    ['view(Array)', () => seg.view(Array), TYPE],
    ['view(ArrayBuffer)', () => seg.view(ArrayBuffer), TYPE],
    ['view(no type)', () => seg.view(), TYPE],
    ['view(offset string)', () => seg.view(Uint8Array, '0'), TYPE],
    ['advise(boolean)', () => seg.advise(true), TYPE],
    ['advise(unknown name)', () => seg.advise('fast'), VALUE],
    ['advise(MADV_HWPOISON)', () => seg.advise(100), VALUE],
    ['sync(string)', () => seg.sync('now'), TYPE],
    ['sync(async string)', () => seg.sync({ async: 'yes' }), TYPE],
    ['lockMemory(onFault number)', () => seg.lockMemory({ onFault: 1 }), TYPE],
    ['map(size string)', () => shmem.map('4096', RW, MAP_SHARED | MAP_ANONYMOUS, -1), TYPE],
    ['map(advice object)', () => shmem.map(4096, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0, {}), TYPE],
    // sizes: negative, fractional, NaN, infinite, past 2^53, zero
    ['create(size -1)', () => shmem.create(uniqueName(), -1), RANGE],
    ['create(size 0)', () => shmem.create(uniqueName(), 0), RANGE],
    ['create(size 1.5)', () => shmem.create(uniqueName(), 1.5), RANGE],
    ['create(size NaN)', () => shmem.create(uniqueName(), NaN), RANGE],
    ['create(size Infinity)', () => shmem.create(uniqueName(), Infinity), RANGE],
    ['create(size 2^53)', () => shmem.create(uniqueName(), 2 ** 53), RANGE],
    ['create(size -1n)', () => shmem.create(uniqueName(), -1n), RANGE],
    ['memfd(size -4096)', () => shmem.memfd(-4096), RANGE],
    ['sysv.create(size 0)', () => shmem.sysv.create(null, 0), RANGE],
    ['open(size 0.5)', () => shmem.open(name, { size: 0.5 }), RANGE],
    ['map(size 0)', () => shmem.map(0, RW, MAP_SHARED | MAP_ANONYMOUS, -1), RANGE],
    // The runtime's own limit: 2^32 on Node 20, 2^53 - 1 from Node 22 on.
    ['map(size over MAX_LENGTH)', () => shmem.map(MAX_LENGTH + 1, RW, MAP_SHARED | MAP_ANONYMOUS, -1), RANGE],
    // names
    ["create('a/b')", () => shmem.create('a/b', 4096), VALUE],
    ["create('')", () => shmem.create('', 4096), VALUE],
    ["create('/')", () => shmem.create('/', 4096), VALUE],
    ["create('x\\0y')", () => shmem.create('x\0y', 4096), VALUE],
    ["create('.')", () => shmem.create('.', 4096), VALUE],
    ["create('..')", () => shmem.create('/..', 4096), VALUE],
    ['create(256-byte name)', () => shmem.create('x'.repeat(256), 4096), VALUE],
    ['create(long UTF-8 name)', () => shmem.create('é'.repeat(128), 4096), VALUE],
    ["unlink('a/b')", () => shmem.unlink('a/b'), VALUE],
    ['memfd(name with slash)', () => shmem.memfd(4096, { name: 'a/b' }), VALUE],
    ['mapFile(empty path)', () => shmem.mapFile(''), VALUE],
    ['mapFile(path with NUL)', () => shmem.mapFile('/tmp/a\0b'), VALUE],
    // modes
    ['create(mode -1)', () => shmem.create(uniqueName(), 4096, { mode: -1 }), RANGE],
    ['create(mode 0o1777)', () => shmem.create(uniqueName(), 4096, { mode: 0o1777 }), RANGE],
    ['create(mode 1.5)', () => shmem.create(uniqueName(), 4096, { mode: 1.5 }), RANGE],
    ["create(mode '999')", () => shmem.create(uniqueName(), 4096, { mode: '999' }), VALUE],
    ["create(mode 'rw')", () => shmem.create(uniqueName(), 4096, { mode: 'rw' }), VALUE],
    ['create(mode object)', () => shmem.create(uniqueName(), 4096, { mode: {} }), TYPE],
    ['sysv.create(mode 0o2000)', () => shmem.sysv.create(null, 4096, { mode: 0o2000 }), RANGE],
    // keys and fds
    ['sysv.create(key 0)', () => shmem.sysv.create(0, 4096), VALUE],
    ['sysv.create(key 2^31)', () => shmem.sysv.create(2 ** 31, 4096), RANGE],
    ['sysv.open(key 1.5)', () => shmem.sysv.open(1.5), RANGE],
    ['fromFd(-1)', () => shmem.fromFd(-1), RANGE],
    ['fromFd(2^31)', () => shmem.fromFd(2 ** 31), RANGE],
    // offsets and lengths past the end
    ['view(offset past the end)', () => seg.view(Uint8Array, 8193), RANGE],
    ['view(length past the end)', () => seg.view(Uint8Array, 0, 8193), RANGE],
    ['view(Float64Array length past the end)', () => seg.view(Float64Array, 8, 1024), RANGE],
    ['view(negative offset)', () => seg.view(Uint8Array, -1), RANGE],
    ['view(unaligned Int32Array)', () => seg.view(Int32Array, 2), VALUE_RANGE],
    ['view(unaligned BigInt64Array)', () => seg.view(BigInt64Array, 4), VALUE_RANGE],
    ['advise(offset past the end)', () => seg.advise('normal', 8193), RANGE],
    ['advise(length past the end)', () => seg.advise('normal', 4096, 4097), RANGE],
    ['sync(offset past the end)', () => seg.sync({ offset: 9000 }), RANGE],
    ['residency(length past the end)', () => seg.residency({ length: 8193 }), RANGE],
    ['mapFile(offset past the end)', () => shmem.mapFile(small, { offset: 101 }), RANGE],
    ['map(unaligned offset)', () => shmem.map(4096, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 100), VALUE_RANGE],
    // objects too small for the mapping (a SIGBUS later, refused now)
    ['open(size larger than the object)', () => shmem.open(name, { size: 8193 }), RANGE],
    ['mapFile(size larger than the file)', () => shmem.mapFile(small, { size: 101 }), RANGE],
    ['mapFile(offset + size past the file)', () => shmem.mapFile(small, { offset: 50, size: 51 }), RANGE],
    ['mapFile(create without size)', () => shmem.mapFile(path.join(dir, 'n.bin'), { create: true }), VALUE],
    // options that do not apply
    ['create(hugePages)', () => shmem.create(uniqueName(), 2 ** 21, { hugePages: true }), VALUE],
    ['mapFile(hugePages)', () => shmem.mapFile(small, { hugePages: true }), VALUE],
    ['memfd segment.unlink()', () => closed.unlink(), UNSUPPORTED],
    ['posix segment.remove()', () => seg.remove(), UNSUPPORTED],
    ['map(PROT_NONE)', () => shmem.map(4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1), VALUE],
    ['map(MAP_FIXED)', () => shmem.map(4096, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1), VALUE],
    ['map(neither SHARED nor PRIVATE)', () => shmem.map(4096, RW, MAP_ANONYMOUS, -1), { code: 'EINVAL' }],
    // closed segments
    ['closed.buffer', () => closed.buffer, CLOSED],
    ['closed.arrayBuffer', () => closed.arrayBuffer, CLOSED],
    ['closed.view()', () => closed.view(Uint8Array), CLOSED],
    ['closed.advise()', () => closed.advise('normal'), CLOSED],
    ['closed.sync()', () => closed.sync(), CLOSED],
    ['closed.residency()', () => closed.residency(), CLOSED],
    ['closed.lockMemory()', () => closed.lockMemory(), CLOSED],
    ['closed.unlockMemory()', () => closed.unlockMemory(), CLOSED],
    ['closed.stat()', () => closed.stat(), CLOSED],
    // system errors
    ['create(existing name)', () => shmem.create(name, 4096), { code: 'EEXIST', syscall: 'shm_open' }],
    ['open(missing name)', () => shmem.open(uniqueName('missing')), { code: 'ENOENT', syscall: 'shm_open' }],
    ['sysv.open(missing key)', () => shmem.sysv.open(0x7eadbeef), { code: 'ENOENT', syscall: 'shmget' }],
    ['fromFd(closed fd)', () => shmem.fromFd(99999), { code: 'EBADF' }],
    ['mapFile(directory)', () => shmem.mapFile(dir), { code: 'EISDIR' }],
    ['mapFile(missing)', () => shmem.mapFile(path.join(dir, 'missing')), { code: 'ENOENT', syscall: 'open' }],
    ['create(4 PiB)', () => shmem.create(uniqueName(), 2 ** 52), { code: 'ENOMEM' }]
  ]

  for (const [label, fn, expected] of table) {
    assert.throws(fn, expected, label)
  }
  assert.equal(table.length > 100, true)
  seg.close()
})

test('a failed system call looks like Node\'s fs errors', () => {
  const name = uniqueName('missing')
  let err
  try { shmem.open(name) } catch (e) { err = e }
  assert.ok(err instanceof Error)
  assert.equal(err.code, 'ENOENT')
  assert.equal(err.errno, -2)
  assert.equal(err.syscall, 'shm_open')
  assert.equal(err.path, name)
  assert.equal(err.message, `ENOENT: no such file or directory, shm_open '${name}'`)
  // The same shape as fs's own error for the same errno.
  let fsErr
  try { fs.openSync('/nonexistent/x') } catch (e) { fsErr = e }
  assert.equal(err.errno, fsErr.errno)
})

test('failed creates leave no name behind', () => {
  const before = fs.readdirSync('/dev/shm').filter((n) => n.includes(`-${process.pid}-`))
  const name = uniqueName('nothing-left')
  assert.throws(() => shmem.create(name, 2 ** 52), { code: 'ENOMEM' })
  assert.throws(() => shmem.openOrCreate(name, 2 ** 52), { code: 'ENOMEM' })
  assert.equal(fs.existsSync(`/dev/shm${name}`), false)
  const dir = tempDir()
  const file = path.join(dir, 'x.bin')
  assert.throws(() => shmem.mapFile(file, { size: 2 ** 52, create: true }))
  assert.equal(fs.existsSync(file), false, 'a file mapFile created for a failed mapping is removed')
  const after = fs.readdirSync('/dev/shm').filter((n) => n.includes(`-${process.pid}-`))
  assert.deepEqual(after, before)
})

test('the binding checks its arguments again in C', async () => {
  const r = await runSnippet(`
    const b = require(${JSON.stringify(require.resolve('../lib/binding'))})
    const expect = (fn, code) => {
      try { fn() } catch (e) { assert.equal(e.code, code, String(e)); return }
      throw new Error('did not throw: ' + fn)
    }
    expect(() => b.posixCreate(1, 4096, 0, 0o600), 'ERR_INVALID_ARG_TYPE')
    expect(() => b.posixCreate('/x', -1, 0, 0o600), 'ERR_OUT_OF_RANGE')
    expect(() => b.posixCreate('/x', 1.5, 0, 0o600), 'ERR_OUT_OF_RANGE')
    expect(() => b.posixCreate('/x', NaN, 0, 0o600), 'ERR_OUT_OF_RANGE')
    expect(() => b.posixCreate('/x', 4096, 0x1000, 0o600), 'ERR_OUT_OF_RANGE')
    expect(() => b.posixCreate('/x', 4096, 0, 0o7777), 'ERR_OUT_OF_RANGE')
    expect(() => b.posixCreate('/x\\0y', 4096, 0, 0o600), 'ERR_INVALID_ARG_VALUE')
    expect(() => b.posixCreate('/a/b', 4096, 0, 0o600), 'EINVAL')
    expect(() => b.posixCreate('/x'), 'ERR_MISSING_ARGS')
    expect(() => b.posixOpen('x'.repeat(5000), 0, 0), 'ERR_INVALID_ARG_VALUE')
    expect(() => b.arrayBuffer({}, 0, 1), 'ERR_INVALID_ARG_TYPE')
    expect(() => b.arrayBuffer(b.constants, 0, 1), 'ERR_INVALID_ARG_TYPE')
    expect(() => b.close('handle'), 'ERR_INVALID_ARG_TYPE')
    expect(() => b.fdMap(-5, 0, 0, 0), 'ERR_OUT_OF_RANGE')
    expect(() => b.sysvCreate(2 ** 40, 4096, 0, 0o600), 'ERR_OUT_OF_RANGE')
    expect(() => b.map(4096, 0, 0x22, -1, 0, -1), 'EINVAL')
    expect(() => b.map(4096, 3, 0x22 | 0x10, -1, 0, -1), 'EINVAL')
    expect(() => b.map(4096, 3, 0x22, -1, 0, 100), 'ERR_INVALID_ARG_VALUE')
    const h = b.memfdCreate(4096, 0, null)
    expect(() => b.arrayBuffer(h, 0, 4097), 'ERR_OUT_OF_RANGE')
    expect(() => b.arrayBuffer(h, 4097, 0), 'ERR_OUT_OF_RANGE')
    expect(() => b.advise(h, 100, 0, 4096), 'ERR_INVALID_ARG_VALUE')
    expect(() => b.advise(h, 0, 0, 4097), 'ERR_OUT_OF_RANGE')
    expect(() => b.sync(h, 7, 0, 4096), 'ERR_OUT_OF_RANGE')
    expect(() => b.lockMemory(h, 'yes'), 'ERR_INVALID_ARG_TYPE')
    b.close(h)
    b.close(h)
    expect(() => b.arrayBuffer(h, 0, 1), 'ERR_SHMEM_CLOSED')
    expect(() => b.stat(h), 'ERR_SHMEM_CLOSED')
    console.log('ok')
  `)
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout.trim(), 'ok')
})

test("errno names and texts are Node's own (the core's table, read without libuv)", () => {
  const binding = require('../lib/binding')
  const nodeMap = require('util').getSystemErrorMap()
  let checked = 0
  for (const [name, number] of Object.entries(require('os').constants.errno)) {
    const [ours, text] = binding.errorText(-number)
    if (ours === 'EUNKNOWN') continue
    const node = nodeMap.get(-number)
    // Aliases (EWOULDBLOCK is EAGAIN) share a number: compare by number, name Node's way.
    if (node) {
      assert.equal(ours, node[0], `name of ${name}`)
      assert.equal(text, node[1], `text of ${name}`)
    } else {
      assert.equal(text, null, `${name}: Node has no text, the table must not invent one`)
    }
    checked++
  }
  assert.ok(checked >= 40, `only ${checked} errnos checked`)
})
