'use strict'
// compat/shmmap: its API, the seed README's parent.js/child.js example (read from the seed at
// run time), and misuse in a child process.

const { test } = require('node:test')
const assert = require('assert')
const fs = require('fs')
const { spawn } = require('child_process')
const { shmem, trackPosix, runNode, runSnippet, fixture } = require('./helpers')
const seeds = require('./fixtures/compat-seeds')
const shmmap = require('../compat/shmmap')

const SEED = '003_b429b5b001027442.txt'

// POSIX objects whose shmmap key names the given creator pid.
const leftovers = (pid) => fs.readdirSync('/dev/shm').filter((n) => n.startsWith(`shmmap-${pid}-`))

test('create, read (read-only), read_write and release', () => {
  const [key, buf] = shmmap.create(4096)
  trackPosix(key)
  try {
    assert.strictEqual(typeof key, 'string')
    assert.match(key, new RegExp(`^/shmmap-${process.pid}-`))
    assert.ok(Buffer.isBuffer(buf))
    assert.strictEqual(buf.length, 4096)
    const rw = shmmap.read_write(key, 4096)
    const ro = shmmap.read(key, 100)
    assert.strictEqual(ro.length, 100)
    rw[5] = 55
    assert.strictEqual(buf[5], 55)
    assert.strictEqual(ro[5], 55)
    const seg = shmem.open(key)
    assert.strictEqual(seg.size, 4096)
    seg.close()
    // Two creates never share a key.
    const [other] = shmmap.create(16)
    trackPosix(other)
    assert.notStrictEqual(other, key)
    shmmap.release(other)
  } finally {
    assert.strictEqual(shmmap.release(key), undefined)
  }
  assert.strictEqual(buf.length, 0)
  assert.ok(!fs.existsSync(`/dev/shm${key}`))
})

test('transfer(buffer) flushes a mapped buffer; anything else is a coded error', () => {
  const [key, buf] = shmmap.create(4096)
  trackPosix(key)
  try {
    buf.write('flushed')
    assert.strictEqual(shmmap.transfer(buf), undefined)
    const rw = shmmap.read_write(key)
    assert.strictEqual(shmmap.transfer(rw), undefined)
    assert.throws(() => shmmap.transfer(Buffer.alloc(16)), { code: 'ERR_INVALID_ARG_VALUE' })
    assert.throws(() => shmmap.transfer(new Uint8Array(4)), { code: 'ERR_INVALID_ARG_TYPE' })
    assert.throws(() => shmmap.transfer(), { code: 'ERR_INVALID_ARG_TYPE' })
  } finally {
    shmmap.release(key)
  }
  assert.throws(() => shmmap.transfer(buf), { code: 'ERR_INVALID_ARG_VALUE' }, 'released')
})

test('a process that only opened a key keeps it on release; the creator unlinks it at exit', async () => {
  const [key] = shmmap.create(64)
  trackPosix(key)
  try {
    const r = await runSnippet(`
      const shmmap = require(${JSON.stringify(require.resolve('../compat/shmmap'))})
      const b = shmmap.read_write(${JSON.stringify(key)}, 64)
      b.write('child')
      shmmap.release(${JSON.stringify(key)})
      assert.ok(require('fs').existsSync('/dev/shm${key}'))
      const [mine] = shmmap.create(64)
      console.log('MADE ' + mine)
    `)
    assert.strictEqual(r.code, 0, r.stderr)
    const mine = /^MADE (\S+)$/m.exec(r.stdout)[1]
    trackPosix(mine)
    assert.ok(!fs.existsSync(`/dev/shm${mine}`), 'the child unlinked its key at exit')
    assert.strictEqual(shmmap.read(key, 5).toString(), 'child')
  } finally {
    shmmap.release(key)
  }
})

test('misuse that crashes the original throws here (child process exits 0)', async () => {
  const r = await runNode(fixture('compat-shmmap-misuse.js'))
  assert.strictEqual(r.signal, null, r.stderr)
  assert.strictEqual(r.code, 0, r.stderr)
  assert.match(r.stdout, /^misuse ok$/m)
})

test('seed: parent.js and child.js print the three lines of the Results block', { skip: seeds.skipUnlessSeed(SEED) }, async (t) => {
  const text = seeds.readSeed(SEED)
  const blocks = seeds.fencedBlocks(text)
  const js = blocks.filter((b) => b.lang === 'js')
  const parent = js.find((b) => b.code.includes("cp.fork(__dirname+'/child.js'"))
  const child = js.find((b) => b.code.includes('shmmap.read_write('))
  assert.ok(parent && child, 'the seed has parent.js and child.js')
  const results = blocks[blocks.indexOf(child) + 1]
  assert.strictEqual(results.lang, '')
  const expected = results.code.trim().split('\n')
  assert.strictEqual(expected.length, 3)

  const ws = seeds.workspace()
  t.after(() => ws.remove())
  const file = ws.write('parent.js', seeds.replaceRequire(parent.code, 'shmmap', 'shmem/compat/shmmap'))
  ws.write('child.js', seeds.replaceRequire(child.code, 'shmmap', 'shmem/compat/shmmap'))
  const r = await seeds.run(file, { cwd: ws.dir })
  t.after(() => {
    for (const n of leftovers(r.pid)) shmem.unlink(`/${n}`)
  })
  assert.strictEqual(r.code, 0, r.stderr)
  const lines = r.stdout.trim().split('\n')

  // Line by line the shape of the README's Results: the same words, numbers where it has numbers.
  assert.strictEqual(lines.length, 3, r.stdout)
  lines.forEach((line, i) => {
    const shape = new RegExp(`^${expected[i].replace(/\d+/g, '(\\d+)')}$`)
    assert.match(line, shape)
  })
  // The sums are what the code computes (it writes i % 255 into the first half of 4 MiB), not
  // the README's: the child's first, then the parent's, 100 more after the child's write.
  let sum = 0
  for (let i = 0; i < 2 * 1024 * 1024; i++) sum += i % 255
  assert.strictEqual(lines[0], `child sum: ${sum}`)
  assert.strictEqual(lines[1], `parent sum: ${sum + 100}`)
  assert.strictEqual(lines[2], 'parent 0: 100')
  assert.strictEqual(lines[2], expected[2])
  // The parent created the segment; it unlinked it when it exited.
  assert.deepStrictEqual(leftovers(r.pid), [])
})

test('the creator\'s keys go on SIGTERM too (autoUnlink)', async (t) => {
  const child = spawn(process.execPath, ['-e', `
    const shmmap = require(${JSON.stringify(require.resolve('../compat/shmmap'))})
    const [key] = shmmap.create(64)
    console.log('KEY ' + key)
    setInterval(() => {}, 1000)
  `], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => child.kill('SIGKILL'))
  let out = ''
  const key = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d
      const m = /^KEY (\S+)$/m.exec(out)
      if (m) resolve(m[1])
    })
    child.on('close', () => reject(new Error('exited before printing its key')))
  })
  trackPosix(key)
  assert.ok(fs.existsSync(`/dev/shm${key}`))
  child.kill('SIGTERM')
  const [, signal] = await new Promise((resolve) => child.on('close', (...a) => resolve(a)))
  assert.strictEqual(signal, 'SIGTERM')
  assert.ok(!fs.existsSync(`/dev/shm${key}`))
})
