'use strict'
// map(): raw mmap(2) as a Buffer, in the shape mmap-io users know.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const path = require('path')
const { shmem, tempDir, cleanup, runSnippet } = require('./helpers')

after(cleanup)

const { PROT_READ, PROT_WRITE, MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS, MADV_SEQUENTIAL } =
  shmem.constants

test('anonymous memory, shared and private', () => {
  const a = shmem.map(8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1)
  assert.ok(Buffer.isBuffer(a))
  assert.equal(a.length, 8192)
  assert.equal(a[8191], 0)
  a.fill(7)
  assert.equal(a[8191], 7)
  const p = shmem.map(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, null, 0, 'random')
  p[0] = 1
  assert.equal(p[0], 1)
})

test('a file mapped shared: writes reach the file; private: they do not', () => {
  const file = path.join(tempDir(), 'm.bin')
  fs.writeFileSync(file, Buffer.alloc(3 * 4096, 1))
  const fd = fs.openSync(file, 'r+')
  try {
    const shared = shmem.map(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096, MADV_SEQUENTIAL)
    assert.equal(shared[0], 1)
    shared.write('shared write')
    const priv = shmem.map(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 8192)
    priv.write('private write')
    const ro = shmem.map(3 * 4096, PROT_READ, MAP_SHARED, fd)
    assert.equal(ro.toString('utf8', 4096, 4108), 'shared write')
    assert.equal(ro.toString('utf8', 8192, 8205), '\x01'.repeat(13))
  } finally {
    fs.closeSync(fd)
  }
  const back = fs.readFileSync(file)
  assert.equal(back.toString('utf8', 4096, 4108), 'shared write')
  assert.equal(back[8192], 1, 'private writes stay in the process')
})

test('offsets past 4 GiB in a sparse file', () => {
  const file = path.join(tempDir(), 'big.bin')
  const offset = 6 * 1024 ** 3
  const fd = fs.openSync(file, 'w+')
  try {
    fs.ftruncateSync(fd, offset + 4096)
    const m = shmem.map(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset)
    m.write('six GiB in')
    const b = Buffer.alloc(10)
    fs.readSync(fd, b, 0, 10, offset)
    assert.equal(b.toString(), 'six GiB in')
  } finally {
    fs.closeSync(fd)
  }
})

test('a mapping of a POSIX object\'s fd sees the segment', () => {
  const seg = shmem.memfd(4096)
  seg.buffer.write('via map')
  const m = shmem.map(4096, PROT_READ, MAP_SHARED, seg.fd)
  assert.equal(m.toString('utf8', 0, 7), 'via map')
  seg.close()
  assert.equal(m.toString('utf8', 0, 7), 'via map', 'the raw mapping is its own')
})

test('raw mappings are unmapped when collected', async () => {
  const r = await runSnippet(`
    const { PROT_READ, PROT_WRITE, MAP_SHARED, MAP_ANONYMOUS } = shmem.constants
    const count = () => require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').length
    const before = count()
    for (let i = 0; i < 500; i++) shmem.map(1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1)[0] = 1
    for (let i = 0; i < 10; i++) { global.gc(); await new Promise((r) => setTimeout(r, 10)) }
    console.log(count() - before)
  `, { nodeArgs: ['--expose-gc'] })
  assert.equal(r.code, 0, r.stderr)
  assert.ok(Number(r.stdout) < 50, `mappings left: ${r.stdout}`)
})

// Issue 15: a mapping past the end of a file works and never faults. Every page is written
// and read in a child process, so that a SIGBUS fails the test instead of the runner.
test('past the end of a file: the file\'s pages, then zeros that reach no file (child)', async () => {
  const file = path.join(tempDir(), 'short.bin')
  const r = await runSnippet(`
    const fs = require('fs')
    const { PROT_READ, PROT_WRITE, MAP_SHARED, MAP_PRIVATE } = shmem.constants
    const page = shmem.pageSize
    const file = ${JSON.stringify(file)}
    const have = page + 100 // a partial last page
    fs.writeFileSync(file, Buffer.alloc(have, 1))
    const fd = fs.openSync(file, 'r+')
    for (const flags of [MAP_SHARED, MAP_PRIVATE]) {
      for (const [size, offset] of [[4 * page + 7, 0], [3 * page, page], [2 * page, 8 * page]]) {
        const now = fs.readFileSync(file)
        const m = shmem.map(size, PROT_READ | PROT_WRITE, flags, fd, offset)
        assert.strictEqual(m.length, size)
        for (let i = 0; i < size; i++) {
          const expected = offset + i < have ? now[offset + i] : 0
          if (m[i] !== expected) throw new Error('byte ' + i + ' is ' + m[i])
        }
        for (let i = 0; i < size; i += page) m[i] = 9
        m[size - 1] = 9
        for (let i = 0; i < size; i += page) assert.strictEqual(m[i], 9)
      }
    }
    assert.strictEqual(fs.fstatSync(fd).size, have, 'the file keeps its size')
    const back = fs.readFileSync(file)
    assert.strictEqual(back[0], 9, 'shared writes to the file\\'s pages reach it')
    assert.strictEqual(back[page + 99], 1)
    // A read-only mapping past the end reads zeros too.
    const ro = shmem.map(3 * page, PROT_READ, MAP_SHARED, fd, 0)
    assert.strictEqual(ro[3 * page - 1], 0)
    console.log('no fault')
  `)
  assert.strictEqual(r.signal, null, r.stderr)
  assert.strictEqual(r.code, 0, r.stderr)
  assert.match(r.stdout, /^no fault$/m)
})

test('an empty file maps as zeros; a writable shared map of a read-only fd is still EACCES', () => {
  const file = path.join(tempDir(), 'empty.bin')
  fs.writeFileSync(file, '')
  const fd = fs.openSync(file, 'r')
  try {
    const m = shmem.map(8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd)
    m[8191] = 1
    assert.equal(m[0], 0)
    assert.throws(() => shmem.map(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd),
      { code: 'EACCES', syscall: 'mmap' })
    assert.equal(fs.fstatSync(fd).size, 0)
  } finally {
    fs.closeSync(fd)
  }
})

test('fds whose size cannot be checked: /dev/zero maps, a pipe is ENODEV', { skip: process.platform !== 'linux' && 'Linux' }, () => {
  const zero = fs.openSync('/dev/zero', 'r+')
  try {
    const m = shmem.map(3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, zero)
    m[3 * 4096 - 1] = 5
    assert.equal(m[0], 0)
  } finally {
    fs.closeSync(zero)
  }
  // A pipe: a FIFO opened for reading and writing, so that open() does not wait.
  const fifo = path.join(tempDir(), 'fifo')
  require('child_process').execFileSync('mkfifo', [fifo])
  const fd = fs.openSync(fifo, fs.constants.O_RDWR)
  try {
    assert.throws(() => shmem.map(4096, PROT_READ, MAP_SHARED, fd), { code: 'ENODEV', syscall: 'mmap' })
  } finally {
    fs.closeSync(fd)
  }
  const dir = fs.openSync(tempDir(), 'r')
  try {
    assert.throws(() => shmem.map(4096, PROT_READ, MAP_SHARED, dir), { code: 'EISDIR' })
  } finally {
    fs.closeSync(dir)
  }
})

test('an offset that is not a multiple of the page size stays ERR_INVALID_ARG_VALUE', () => {
  const file = path.join(tempDir(), 'aligned.bin')
  fs.writeFileSync(file, Buffer.alloc(8192))
  const fd = fs.openSync(file, 'r')
  try {
    assert.throws(() => shmem.map(4096, PROT_READ, MAP_SHARED, fd, 4095),
      { code: 'ERR_INVALID_ARG_VALUE', name: 'RangeError' })
  } finally {
    fs.closeSync(fd)
  }
})
