'use strict'
// compat/shm-typed-array: its API, the seed README's examples (read from the seed at run
// time), interop with the real shm-typed-array both ways, and misuse in a child process.

const { test } = require('node:test')
const assert = require('assert')
const fs = require('fs')
const { spawn } = require('child_process')
const { constants: { MAX_LENGTH } } = require('buffer')
const { shmem, uniqueName, trackPosix, trackSysv, runNode, fixture } = require('./helpers')
const seeds = require('./fixtures/compat-seeds')
const shm = require('../compat/shm-typed-array')
const { peerMissing } = require('../scripts/peers')

const SEED = '001_300c98aa0920d1d3.txt'
const TYPES = ['Buffer', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array',
  'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array']

// System V segments alive now, from /proc/sysvipc/shm: [{ key, shmid, cpid, nattch }].
function sysvSegments () {
  const lines = fs.readFileSync('/proc/sysvipc/shm', 'utf8').trim().split('\n').slice(1)
  return lines.map((line) => {
    const f = line.trim().split(/\s+/).map(Number)
    return { key: f[0], shmid: f[1], size: f[3], cpid: f[4], nattch: f[6] }
  })
}

test('BufferType, LengthMax and the SHMBT_* numbers', () => {
  assert.deepStrictEqual(Object.keys(shm.BufferType), TYPES)
  assert.deepStrictEqual(Object.values(shm.BufferType), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  assert.strictEqual(shm.SHMBT_FLOAT64, 9)
  assert.strictEqual(shm.LengthMax, MAX_LENGTH)
})

test('System V: create with a generated key, get, null on an existing key, detach, destroy', (t) => {
  const before = [shm.getTotalSize(), shm.getTotalCreatedSize()]
  const buf = shm.create(4096)
  t.after(() => shmem.sysv.remove(buf.key | 0))
  assert.ok(Buffer.isBuffer(buf))
  assert.strictEqual(buf.length, 4096)
  assert.ok(Number.isInteger(buf.key) && buf.key >= 1 && buf.key <= 2 ** 32 - 2)
  assert.strictEqual(shm.getTotalSize() - before[0], 4096)
  assert.strictEqual(shm.getTotalCreatedSize() - before[1], 4096)
  assert.strictEqual(shm.create(4096, 'Buffer', buf.key), null)

  const again = shm.get(buf.key, 'Uint32Array')
  assert.strictEqual(again.constructor, Uint32Array)
  assert.strictEqual(again.length, 1024)
  assert.strictEqual(again.key, buf.key)
  again[0] = 0x01020304
  assert.strictEqual(buf.readUInt32LE(0), 0x01020304)
  assert.strictEqual(shm.getTotalSize() - before[0], 8192)

  // Both attachments of this process go; nobody else is attached, so the segment goes too.
  assert.strictEqual(shm.detach(buf.key), 0)
  assert.strictEqual(buf.length, 0)
  assert.strictEqual(shm.get(buf.key), null)
  assert.strictEqual(shm.getTotalSize(), before[0])
  assert.strictEqual(shm.getTotalCreatedSize(), before[1])
  assert.strictEqual(shm.destroy(buf.key), false)
})

test('System V: detach counts the attachments left; forceDestroy later removes it by id', (t) => {
  const a = shm.create(4096)
  t.after(() => shmem.sysv.remove(a.key | 0))
  const other = shmem.sysv.open(a.key | 0) // an attachment this module does not know of
  t.after(() => other.close())
  assert.strictEqual(shm.detach(a.key), 1)
  assert.strictEqual(other.buffer.length, 4096) // still attached elsewhere: not removed
  assert.strictEqual(shm.detach(a.key), -1) // nothing of ours attached any more
  assert.strictEqual(shm.detach(a.key, true), 0)
  assert.strictEqual(shm.get(a.key), null) // the key is gone; `other` keeps its memory
  assert.strictEqual(other.buffer.length, 4096)
})

test('System V: a given key, every type, perm as octal digits', (t) => {
  for (const [i, type] of TYPES.entries()) {
    // A random key; null means someone else has it, so draw again (never touch theirs).
    let key, arr
    for (let tries = 0; arr == null && tries < 20; tries++) {
      key = 0x5e000000 + Math.floor(Math.random() * 0xffffff)
      arr = shm.create(10 + i, type, key, '640')
    }
    assert.ok(arr)
    trackSysv(key)
    t.after(() => shm.destroy(key))
    assert.strictEqual(arr.constructor.name, type)
    assert.strictEqual(arr.length, 10 + i)
    assert.strictEqual(arr.key, key)
    const seg = shmem.sysv.open(key)
    assert.strictEqual(seg.stat().mode & 0o777, 0o640)
    assert.strictEqual(seg.size, (10 + i) * (type === 'Buffer' ? 1 : globalThis[type].BYTES_PER_ELEMENT))
    seg.close()
    assert.strictEqual(shm.destroy(key), true)
  }
})

test('POSIX: the 8-byte size header, null on an existing name, detach and destroy', (t) => {
  const name = trackPosix(uniqueName('compat-sta'))
  t.after(() => shmem.unlink(name))
  const before = shm.getTotalSize()
  const arr = shm.create(100, 'Float64Array', name)
  assert.strictEqual(arr.constructor, Float64Array)
  assert.strictEqual(arr.length, 100)
  assert.strictEqual(arr.byteOffset, 8)
  assert.strictEqual(arr.key, undefined)
  assert.strictEqual(shm.getTotalSize() - before, 808)
  assert.strictEqual(shm.create(100, 'Float64Array', name), null)

  const raw = shmem.open(name)
  assert.strictEqual(raw.size, 808)
  assert.strictEqual(new BigUint64Array(raw.arrayBuffer, 0, 1)[0], 800n)
  arr[0] = Math.PI
  assert.strictEqual(raw.buffer.readDoubleLE(8), Math.PI)
  raw.close()

  const bytes = shm.get(name, 'Uint8Array')
  assert.strictEqual(bytes.length, 800)
  assert.strictEqual(shm.get(name.slice(1), 'Float64Array')[0], Math.PI) // 'x' is '/x'
  assert.strictEqual(shm.detach(name), 1) // detached; POSIX objects stay
  assert.strictEqual(arr.length, 0)
  assert.ok(shm.get(name))
  assert.strictEqual(shm.destroy(name), true)
  assert.strictEqual(shm.get(name), null)
  assert.strictEqual(shm.detach(name), -1)
  assert.strictEqual(shm.destroy(name), false)
})

test('POSIX: perm is applied (less the umask) and forceDestroy of a name we never opened', (t) => {
  const name = trackPosix(uniqueName('compat-sta'))
  t.after(() => shmem.unlink(name))
  assert.ok(shm.create(10, 'Buffer', name, '600'))
  assert.strictEqual(fs.statSync(`/dev/shm${name}`).mode & 0o777, 0o600)
  shm.detach(name)
  const other = trackPosix(uniqueName('compat-sta'))
  shmem.create(other, 16).close()
  assert.strictEqual(shm.detach(other), -1) // not ours, not forced: left alone
  assert.ok(fs.existsSync(`/dev/shm${other}`))
  assert.strictEqual(shm.detach(other, true), 0)
  assert.ok(!fs.existsSync(`/dev/shm${other}`))
  assert.strictEqual(shm.destroy(name), true)
})

test('misuse that crashes the original throws here (child process exits 0)', async () => {
  const r = await runNode(fixture('compat-sta-misuse.js'))
  assert.strictEqual(r.signal, null, r.stderr)
  assert.strictEqual(r.code, 0, r.stderr)
  assert.match(r.stdout, /^misuse ok$/m)
})

// --- interop with the real package ---

function startCreator (lib, kind, name) {
  const child = spawn(process.execPath, [fixture('compat-sta-interop.js'), 'create', lib, kind,
    ...(name ? [name] : [])], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d
      const m = /^READY (.+)$/m.exec(stdout)
      if (m) resolve(m[1])
    })
    child.on('close', (code) => reject(new Error(`creator exited ${code} before READY\n${stderr}`)))
  })
  const done = new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return { child, ready, done }
}

// The real package, where `npm run peers` installed it for this Node (scripts/peers.js).
const originalMissing = peerMissing('shm-typed-array')

for (const kind of ['sysv', 'posix']) {
  for (const [from, to] of [['orig', 'ours'], ['ours', 'orig']]) {
    test(`interop ${kind}: created by ${from === 'orig' ? 'shm-typed-array' : 'compat'}, ` +
      `attached by ${to === 'orig' ? 'shm-typed-array' : 'compat'}`,
    { skip: originalMissing || false }, async (t) => {
      const name = kind === 'posix' ? trackPosix(uniqueName('compat-sta-io')) : null
      const creator = startCreator(from, kind, name)
      t.after(() => {
        creator.child.kill('SIGKILL')
        if (name) shmem.unlink(name)
      })
      const key = await creator.ready
      if (kind === 'sysv') trackSysv(Number(key) | 0)
      const got = await runNode(fixture('compat-sta-interop.js'), ['get', to, key])
      assert.strictEqual(got.code, 0, got.stderr)
      assert.match(got.stdout, /^GOT 16$/m)
      creator.child.stdin.end()
      const r = await creator.done
      assert.strictEqual(r.code, 0, r.stderr)
      assert.match(r.stdout, /^DONE$/m)
      if (kind === 'posix') assert.ok(!fs.existsSync(`/dev/shm${name}`))
      else assert.ok(!sysvSegments().some((s) => (s.key >>> 0) === Number(key)))
    })
  }
}

// --- the seed README's examples, extracted at run time ---

const skip = seeds.skipUnlessSeed(SEED)

function seedBlocks () {
  return seeds.fencedBlocks(seeds.readSeed(SEED)).filter((b) => b.lang === 'js')
}

test('seed: the "Usage of memory segments" cluster example prints its Output block', { skip }, async (t) => {
  const text = seeds.readSeed(SEED)
  const blocks = seeds.fencedBlocks(text)
  const example = blocks.find((b) => b.lang === 'js' && b.code.includes("require('cluster')"))
  const output = blocks[blocks.indexOf(example) + 1]
  assert.ok(example && output && output.lang === '', 'the seed has the example and its Output')
  const expected = output.code.trim().split('\n').map(seeds.squash)

  const ws = seeds.workspace()
  t.after(() => ws.remove())
  const file = ws.write('example.js',
    seeds.replaceRequire(example.code, 'shm-typed-array', 'shmem/compat/shm-typed-array'))
  const child = spawn(process.execPath, [file], { cwd: ws.dir, stdio: ['ignore', 'pipe', 'pipe'] })
  const master = child.pid
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  t.after(() => {
    // Whatever happened, remove what the example's master made (found by its pid).
    for (const s of sysvSegments()) if (s.cpid === master) shmem.sysv.remove(s.key)
  })
  // 'close' waits for the worker too: it holds the same stdout pipe until it exits.
  const code = await new Promise((resolve) => child.on('close', resolve))
  assert.strictEqual(code, 0, stderr)
  const lines = stdout.trim().split('\n').map(seeds.squash)

  // The master's lines are deterministic: they must be exactly the README's, in order.
  const isMaster = (l) => l.includes('[Master]')
  assert.deepStrictEqual(lines.filter(isMaster), expected.filter(isMaster))
  // The worker's depend on timing: same shape, numbered from 0, arr null from 2 on.
  const workerShape = /^\[Worker\] Typeof buf: Buffer Typeof arr: Float32Array$/
  assert.ok(expected.some((l) => workerShape.test(l)))
  assert.ok(lines.some((l) => workerShape.test(l)), stdout)
  const ticks = lines.filter((l) => /^\d+ \[Worker\]/.test(l))
  assert.ok(ticks.length >= 2, stdout)
  ticks.forEach((l, i) => {
    const m = /^(\d+) \[Worker\] Get buf\[0\]= (\d+) arr\[0\]= (\S+)$/.exec(l)
    assert.ok(m, `worker line of the README's shape: ${l}`)
    assert.strictEqual(Number(m[1]), i)
    if (i < 2) assert.ok(Number(m[3]) > 0, l)
    else assert.strictEqual(m[3], 'null')
  })
  // It ends as the README's Output does, and prints nothing else.
  assert.strictEqual(expected[expected.length - 1], 'shm segments destroyed: 2')
  assert.strictEqual(lines[lines.length - 1], 'shm segments destroyed: 2')
  assert.strictEqual(lines.length, lines.filter(isMaster).length + ticks.length + 2, stdout)
  // And it leaves no segment behind: both are gone once the worker has detached.
  assert.deepStrictEqual(sysvSegments().filter((s) => s.cpid === master), [])
})

test('seed: the BufferType block builds the same table from the module\'s SHMBT_* numbers', { skip }, async (t) => {
  const block = seedBlocks().find((b) => b.code.includes('shm.BufferType ='))
  assert.ok(block)
  const ws = seeds.workspace()
  t.after(() => ws.remove())
  // The block has no require line of its own: the one line added is the require.
  const file = ws.write('types.js', "const shm = require('shmem/compat/shm-typed-array')\n" +
    block.code + '\nconsole.log(JSON.stringify(shm.BufferType))\n')
  const r = await runNode(file)
  assert.strictEqual(r.code, 0, r.stderr)
  assert.deepStrictEqual(JSON.parse(r.stdout), shm.BufferType)
})

test('seed: the Cleanup block (shm.detachAll()) removes what the process created', { skip }, async (t) => {
  const block = seedBlocks().find((b) => b.code.trim() === 'shm.detachAll();')
  assert.ok(block)
  const name = trackPosix(uniqueName('compat-sta-clean'))
  t.after(() => shmem.unlink(name))
  const ws = seeds.workspace()
  t.after(() => ws.remove())
  // Before the block: the require line and two segments to clean up; after it: a report.
  const file = ws.write('cleanup.js', [
    "const shm = require('shmem/compat/shm-typed-array')",
    'const a = shm.create(4096)',
    `const p = shm.create(16, 'Buffer', ${JSON.stringify(name)})`,
    'console.log(`KEY ${a.key}`)',
    block.code,
    'console.log(`AFTER ${a.length} ${p.length} ${shm.get(a.key)}`)'
  ].join('\n'))
  const r = await runNode(file)
  assert.strictEqual(r.code, 0, r.stderr)
  const key = Number(/^KEY (\d+)$/m.exec(r.stdout)[1])
  trackSysv(key | 0)
  assert.match(r.stdout, /^AFTER 0 0 null$/m)
  assert.doesNotMatch(r.stdout, /destroyed/) // nothing was left for the exit handler
  assert.ok(!sysvSegments().some((s) => (s.key >>> 0) === key))
  // POSIX objects are not destroyed by cleanup, as the README says.
  assert.ok(fs.existsSync(`/dev/shm${name}`))
})

test('seed: the inline examples of "System V vs POSIX" create what the README says', { skip }, async (t) => {
  // shm.create(100, 'Buffer', '/test'), shm.create(100, 'Buffer', 1234) and shm.create(100):
  // the calls with literal arguments, taken from the seed's inline code.
  const text = seeds.readSeed(SEED)
  const section = text.slice(text.indexOf('# System V vs POSIX'), text.indexOf('# API'))
  const calls = [...section.matchAll(/`(shm\.create\([^`]*\))`/g)].map((m) => m[1])
  assert.strictEqual(calls.length, 3, calls.join(' '))

  // '/test' and key 1234 are fixed: runs of this test take turns through a machine-wide lock,
  // and a '/test' or key 1234 that exists before we start is someone else's: then we skip.
  const release = await seeds.machineLock('compat-sta-fixed-names')
  t.after(release)
  if (fs.existsSync('/dev/shm/test') || sysvSegments().some((s) => s.key === 1234)) {
    t.skip("'/dev/shm/test' or System V key 1234 exists and is not this test's")
    return
  }
  t.after(() => {
    shmem.unlink('/test')
    shmem.sysv.remove(1234)
  })
  const ws = seeds.workspace()
  t.after(() => ws.remove())
  const file = ws.write('inline.js', [
    "const shm = require('shmem/compat/shm-typed-array')",
    ...calls.map((c, i) => `const r${i} = ${c}`),
    `for (const r of [${calls.map((c, i) => `r${i}`).join(', ')}]) {`,
    '  console.log(`${r.constructor.name} ${r.length} ${r.key}`)',
    '}',
    "console.log(require('fs').statSync('/dev/shm/test').size)",
    "console.log(shm.destroy('/test'), shm.destroy(1234), shm.destroy(r2.key))"
  ].join('\n'))
  const r = await runNode(file)
  assert.strictEqual(r.code, 0, r.stderr)
  const lines = r.stdout.trim().split('\n')
  assert.strictEqual(lines[0], 'Buffer 100 undefined') // POSIX: /dev/shm/test
  assert.strictEqual(lines[1], 'Buffer 100 1234') // System V, key 1234
  assert.match(lines[2], /^Buffer 100 \d+$/) // System V, a generated key
  assert.strictEqual(lines[3], '108') // 100 bytes after the 8-byte size header
  assert.strictEqual(lines[4], 'true true true')
  assert.ok(!fs.existsSync('/dev/shm/test'))
})
