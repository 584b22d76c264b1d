'use strict'
// compat/mmap-io: every call of the seed README's (LiveScript) example in each argument shape
// it shows, written here in JS on a real file; sizes and offsets past 2 and 4 GiB on sparse
// files; unmapping on garbage collection; misuse in a child process.

const { test } = require('node:test')
const assert = require('assert')
const fs = require('fs')
const path = require('path')
const { tempDir, runNode, runSnippet, fixture } = require('./helpers')
const seeds = require('./fixtures/compat-seeds')
const mmap = require('../compat/mmap-io')
const { peerMissing, peersDir } = require('../scripts/peers')

const SEED = '004_33aabae9a73b4624.txt'
const PAGE = mmap.PAGESIZE
const GiB = 1024 ** 3

// The argument counts this file's tests call each function with.
const COVERED = {
  map: [4, 5, 6],
  advise: [2, 4],
  sync: [1, 2, 3, 4, 5],
  incore: [1]
}

test('constants and PAGESIZE', () => {
  assert.strictEqual(mmap.PROT_READ, 1)
  assert.strictEqual(mmap.PROT_WRITE, 2)
  assert.strictEqual(mmap.PROT_EXEC, 4)
  assert.strictEqual(mmap.PROT_EXECUTE, 4) // the README's spelling
  assert.strictEqual(mmap.PROT_NONE, 0)
  assert.strictEqual(mmap.MAP_SHARED, 1)
  assert.strictEqual(mmap.MAP_PRIVATE, 2)
  assert.strictEqual(mmap.MAP_NONBLOCK, 0x10000)
  assert.strictEqual(mmap.MAP_POPULATE, 0x8000)
  assert.deepStrictEqual(
    [mmap.MADV_NORMAL, mmap.MADV_RANDOM, mmap.MADV_SEQUENTIAL, mmap.MADV_WILLNEED, mmap.MADV_DONTNEED],
    [0, 1, 2, 3, 4])
  assert.ok(Number.isInteger(PAGE) && PAGE >= 4096 && (PAGE & (PAGE - 1)) === 0)
})

test('the README example, call by call and shape by shape, on a real file', () => {
  const file = path.join(tempDir(), 'foo.bar')
  fs.writeFileSync(file, Buffer.alloc(3 * PAGE + 100, 'a'))
  const fd = fs.openSync(file, 'r')
  const fdW = fs.openSync(file, 'r+')
  try {
    const size = fs.fstatSync(fd).size
    const rxProt = mmap.PROT_READ | mmap.PROT_EXECUTE
    const priv = mmap.MAP_SHARED

    // map(size, protection, privacy, fd[, offset = 0[, advise = 0]]) -> Buffer
    const buffer = mmap.map(size, rxProt, priv, fd)
    const buffer2 = mmap.map(size, mmap.PROT_READ, priv, fd, 0, mmap.MADV_SEQUENTIAL)
    const wBuffer = mmap.map(size, mmap.PROT_WRITE, priv, fdW)
    const tail = mmap.map(100, mmap.PROT_READ, priv, fd, 3 * PAGE) // the 5-argument shape
    for (const b of [buffer, buffer2, wBuffer]) {
      assert.ok(Buffer.isBuffer(b))
      assert.strictEqual(b.length, size)
      assert.strictEqual(b[0], 0x61)
    }
    assert.strictEqual(tail.length, 100)

    // advise(buffer, advise) and advise(buffer, offset, length, advise) -> void
    assert.strictEqual(mmap.advise(wBuffer, mmap.MADV_RANDOM), undefined)
    assert.strictEqual(mmap.advise(wBuffer, PAGE, PAGE, mmap.MADV_WILLNEED), undefined)

    // Writes through the write mapping are seen by the read mappings and reach the file.
    wBuffer.write('hello', 10)
    wBuffer[size - 1] = 0x7a
    assert.strictEqual(buffer.toString('latin1', 10, 15), 'hello')
    assert.strictEqual(tail[99], 0x7a)

    // sync(buffer), sync(buffer, isBlockingSync[, doPageInvalidation]),
    // sync(buffer, offset, length[, isBlockingSync[, doPageInvalidation]]) -> void
    assert.strictEqual(mmap.sync(wBuffer), undefined)
    assert.strictEqual(mmap.sync(wBuffer, true), undefined)
    assert.strictEqual(mmap.sync(wBuffer, true, true), undefined)
    assert.strictEqual(mmap.sync(wBuffer, 0, size), undefined)
    assert.strictEqual(mmap.sync(wBuffer, 0, size, true), undefined)
    assert.strictEqual(mmap.sync(wBuffer, 0, size, true, false), undefined)
    assert.strictEqual(mmap.sync(wBuffer, PAGE, 10, false, true), undefined)
    const onDisk = fs.readFileSync(file)
    assert.strictEqual(onDisk.toString('latin1', 10, 15), 'hello')
    assert.strictEqual(onDisk[size - 1], 0x7a)

    // incore(buffer) -> [unmappedPages, mappedPages]
    const coreStats = mmap.incore(buffer)
    assert.ok(Array.isArray(coreStats))
    assert.strictEqual(coreStats.length, 2)
    assert.ok(coreStats.every(Number.isInteger))
    assert.strictEqual(coreStats[0] + coreStats[1], Math.ceil(size / PAGE))
    assert.ok(coreStats[1] >= 1) // we just touched page 0
    assert.deepStrictEqual(mmap.incore(tail), [0, 1])
  } finally {
    fs.closeSync(fd)
    fs.closeSync(fdW)
  }
})

test('seed: every call and signature the README shows is a shape tested above', { skip: seeds.skipUnlessSeed(SEED) }, () => {
  const text = seeds.readSeed(SEED)
  const shapes = []
  // Calls: `x = mmap.fn a, b` (LiveScript: no parentheses, comma-separated arguments).
  for (const m of text.matchAll(/^\s*(?:[\w-]+\s*=\s*)?mmap\.(map|advise|sync|incore)\s+(.+)$/gm)) {
    shapes.push([m[1], m[2].split(',').length, m[0].trim()])
  }
  // Signatures in comments: `# fn( a, b [, c = 0 [, d]] ) -> ...`: each count from the
  // required arguments to all of them.
  for (const m of text.matchAll(/^\s*#\s*(map|advise|sync|incore)\(\s*(.*?)\s*\)\s*->/gm)) {
    const all = m[2].replace(/[[\]]/g, '').split(',').length
    const required = m[2].replace(/\[.*\]/g, '').split(',').filter((s) => s.trim()).length
    for (let n = required; n <= all; n++) shapes.push([m[1], n, m[0].trim()])
  }
  assert.ok(shapes.length >= 12, `found ${shapes.length} shapes in the seed`)
  for (const [fn, argc, line] of shapes) {
    assert.ok(COVERED[fn].includes(argc), `${line}: ${fn} with ${argc} arguments is tested`)
  }
})

test('sizes and offsets past 2 GiB and 4 GiB (sparse files)', () => {
  const file = path.join(tempDir(), 'sparse.bin')
  const fd = fs.openSync(file, 'w+')
  try {
    fs.ftruncateSync(fd, 5 * GiB)
    // A mapping larger than 2 GiB: its last byte is past 2^31.
    const big = mmap.map(2 * GiB + PAGE, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd)
    assert.strictEqual(big.length, 2 * GiB + PAGE)
    big[2 * GiB + 10] = 42
    mmap.advise(big, 2 * GiB, PAGE, mmap.MADV_WILLNEED)
    mmap.sync(big, 2 * GiB, PAGE, true)
    const [unmapped, mapped] = mmap.incore(big)
    assert.strictEqual(unmapped + mapped, 2 * GiB / PAGE + 1)
    const one = Buffer.alloc(1)
    fs.readSync(fd, one, 0, 1, 2 * GiB + 10)
    assert.strictEqual(one[0], 42)

    // An offset past 4 GiB.
    const far = mmap.map(PAGE, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd, 4 * GiB + PAGE)
    far.write('far away')
    mmap.sync(far, true)
    const eight = Buffer.alloc(8)
    fs.readSync(fd, eight, 0, 8, 4 * GiB + PAGE)
    assert.strictEqual(eight.toString(), 'far away')
  } finally {
    fs.closeSync(fd)
    fs.rmSync(file, { force: true })
  }
})

test('a mapping goes away when its Buffer is garbage-collected (child process)', async () => {
  const dir = tempDir()
  const r = await runSnippet(`
    const fs = require('fs')
    const mmap = require(${JSON.stringify(path.resolve(__dirname, '..', 'compat', 'mmap-io'))})
    const file = ${JSON.stringify(path.join(dir, 'gc.bin'))}
    fs.writeFileSync(file, Buffer.alloc(4096))
    const count = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\\n')
      .filter((l) => l.endsWith(file)).length
    const fd = fs.openSync(file, 'r')
    let b = mmap.map(4096, mmap.PROT_READ, mmap.MAP_SHARED, fd)
    fs.closeSync(fd)
    assert.strictEqual(count(), 1)
    b = null
    for (let i = 0; i < 10 && count() > 0; i++) {
      globalThis.gc()
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.strictEqual(count(), 0)
    console.log('unmapped')
  `, { nodeArgs: ['--expose-gc'] })
  assert.strictEqual(r.code, 0, r.stderr)
  assert.match(r.stdout, /^unmapped$/m)
})

test('misuse that crashes the original throws here (child process exits 0)', async () => {
  const r = await runNode(fixture('compat-mmap-io-misuse.js'), [tempDir()])
  assert.strictEqual(r.signal, null, r.stderr)
  assert.strictEqual(r.code, 0, r.stderr)
  assert.match(r.stdout, /^misuse ok$/m)
})

// The real package, where `npm run peers` installed and built it for this Node (scripts/peers.js):
// the same constants and the same answers for the README's calls, and the 2 GiB limit this
// module does not have.
const originalMissing = peerMissing('@riaskov/mmap-io')
const original = originalMissing ? null : require.resolve('@riaskov/mmap-io', { paths: [peersDir] })

test('the same constants and answers as @riaskov/mmap-io (child process)',
  { skip: original ? false : originalMissing }, async () => {
    const dir = tempDir()
    const r = await runSnippet(`
      const fs = require('fs')
      const orig = require(${JSON.stringify(original)})
      const ours = require(${JSON.stringify(require.resolve('../compat/mmap-io'))})
      const file = ${JSON.stringify(path.join(dir, 'same.bin'))}
      fs.writeFileSync(file, Buffer.alloc(5 * ours.PAGESIZE, 1))
      const fd = fs.openSync(file, 'r+')
      for (const key of Object.keys(orig)) {
        if (typeof orig[key] === 'number') assert.strictEqual(ours[key], orig[key], key)
        else assert.strictEqual(typeof ours[key], typeof orig[key], key)
      }
      const answers = (m) => {
        const size = 5 * m.PAGESIZE
        const w = m.map(size, m.PROT_READ | m.PROT_WRITE, m.MAP_SHARED, fd, 0, m.MADV_RANDOM)
        const results = [
          m.advise(w, m.MADV_NORMAL), m.advise(w, 0, m.PAGESIZE, m.MADV_WILLNEED),
          m.sync(w), m.sync(w, true), m.sync(w, true, true), m.sync(w, 0, size),
          m.sync(w, 0, size, true), m.sync(w, 0, size, true, false)
        ]
        w[0] = 2
        w[3 * m.PAGESIZE] = 3
        const r = m.map(size, m.PROT_READ, m.MAP_SHARED, fd)
        return { results, incore: m.incore(r), first: r[0], isBuffer: Buffer.isBuffer(r) }
      }
      const a = answers(orig)
      const b = answers(ours)
      assert.deepStrictEqual(b, a)
      // Past 2 GiB the original fails (ENOMEM, EOVERFLOW): its sizes and offsets are C ints.
      const big = fs.openSync(${JSON.stringify(path.join(dir, 'big.bin'))}, 'w+')
      fs.ftruncateSync(big, 2 ** 31 + 2 * 4096)
      assert.throws(() => orig.map(2 ** 31 + 4096, orig.PROT_READ, orig.MAP_SHARED, big))
      assert.throws(() => orig.map(4096, orig.PROT_READ, orig.MAP_SHARED, big, 2 ** 31))
      assert.strictEqual(ours.map(2 ** 31 + 4096, ours.PROT_READ, ours.MAP_SHARED, big).length, 2 ** 31 + 4096)
      assert.strictEqual(ours.map(4096, ours.PROT_READ, ours.MAP_SHARED, big, 2 ** 31).length, 4096)
      console.log('same ' + JSON.stringify(b.incore))
    `)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.match(r.stdout, /^same \[\d+,\d+\]$/m)
  })

// Issue 15: 1.6's additions, in both faces.
test('unmap() detaches the Buffer and every view of it; ALLOCATIONGRANULARITY', () => {
  assert.strictEqual(mmap.ALLOCATIONGRANULARITY, PAGE)
  const file = path.join(tempDir(), 'unmap.bin')
  fs.writeFileSync(file, Buffer.alloc(2 * PAGE, 3))
  const fd = fs.openSync(file, 'r+')
  try {
    const b = mmap.map(2 * PAGE, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd)
    const view = new Uint32Array(b.buffer, PAGE, 4)
    assert.strictEqual(view[0], 0x03030303)
    assert.strictEqual(mmap.unmap(b.subarray(10)), true)
    assert.strictEqual(b.length, 0)
    assert.strictEqual(view.length, 0)
    assert.strictEqual(b[0], undefined, 'a detached Buffer reads nothing, and does not fault')
    assert.strictEqual(mmap.unmap(b), false)
    assert.throws(() => mmap.sync(b), { code: 'ERR_INVALID_ARG_VALUE' })
    assert.strictEqual(mmap.unmap(Buffer.alloc(8)), false)
    assert.strictEqual(mmap.unmap(new ArrayBuffer(8)), false)
    assert.throws(() => mmap.unmap('nope'), { code: 'ERR_INVALID_ARG_TYPE', message: /SharedArrayBuffer/ })
  } finally {
    fs.closeSync(fd)
  }
})

const { sharedSupported } = require('../lib/map')
test('1.6: a SharedArrayBuffer that outlives unmap() reads zeros, in a worker too (child)',
  { skip: !sharedSupported() && 'this Node has no node_api_create_external_sharedarraybuffer' },
  async () => {
    const file = path.join(tempDir(), 'sab.bin')
    fs.writeFileSync(file, Buffer.alloc(PAGE, 4))
    const r = await runSnippet(`
      const fs = require('fs')
      const { Worker } = require('worker_threads')
      const mmap = require(${JSON.stringify(require.resolve('../compat/mmap-io@1.6'))})
      const fd = fs.openSync(${JSON.stringify(file)}, 'r+')
      const sab = mmap.map(3 * mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd)
      assert.ok(sab instanceof SharedArrayBuffer)
      const u = new Uint8Array(sab)
      assert.strictEqual(u[0], 4)
      assert.strictEqual(u[3 * mmap.PAGESIZE - 1], 0, 'past the end: zeros')
      const w = new Worker('const { parentPort } = require("worker_threads"); ' +
        'parentPort.once("message", (s) => { const u = new Uint8Array(s); u[1] = 7; parentPort.postMessage(u[0]) })',
        { eval: true })
      w.postMessage(sab)
      const seen = await new Promise((resolve) => w.once('message', resolve))
      assert.strictEqual(seen, 4)
      assert.strictEqual(u[1], 7)
      assert.strictEqual(fs.readFileSync(${JSON.stringify(file)})[1], 7)
      await w.terminate()
      assert.strictEqual(mmap.unmap(sab), true)
      assert.strictEqual(mmap.unmap(sab), false)
      assert.strictEqual(u[1], 0, 'let go of: zeros')
      u[2] = 9
      assert.strictEqual(fs.readFileSync(${JSON.stringify(file)})[2], 4, 'writes reach no file')
      console.log('sab ok')
    `)
    assert.strictEqual(r.signal, null, r.stderr)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.match(r.stdout, /^sab ok$/m)
  })
