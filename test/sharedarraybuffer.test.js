'use strict'
// SharedArrayBuffer segments: segment.sharedArrayBuffer and view(..., { shared: true }) where
// the runtime has node_api_create_external_sharedarraybuffer (Node.js 22.23.3+, 24.16.0+,
// 26.1.0+), ERR_SHMEM_UNSUPPORTED where it does not (Node.js 20). A worker gets the buffer by
// postMessage, Atomics work on it between threads and shmem.wait/notify between processes; a
// SharedArrayBuffer keeps the mapping after close() until the last one is collected.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const path = require('path')
const { shmem, uniqueName, trackPosix, cleanup, runSnippet, runNode, tempDir } =
  require('./helpers')
const { startChild, startWorker } = require('./fixtures/lock-harness')

after(cleanup)

// Whether this runtime makes them: the property answers, ERR_SHMEM_UNSUPPORTED or a buffer.
const HAS_SAB = (() => {
  const seg = shmem.memfd(4096)
  try {
    seg.sharedArrayBuffer // eslint-disable-line no-unused-expressions
    return true
  } catch (err) {
    if (err.code === 'ERR_SHMEM_UNSUPPORTED') return false
    throw err
  } finally {
    seg.close()
  }
})()
const NEEDS_SAB = HAS_SAB ? false
  : `Node.js ${process.versions.node} has no node_api_create_external_sharedarraybuffer`

// Runs a snippet in a child and expects it to print exactly `ok`.
async function inChild (code, opts) {
  const r = await runSnippet(code, opts)
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout.trim(), 'ok', r.stderr)
}

test('without the function: both ways in throw ERR_SHMEM_UNSUPPORTED naming the versions',
  { skip: HAS_SAB && `Node.js ${process.versions.node} has it` }, () => {
    const seg = shmem.memfd(4096)
    try {
      const unsupported = (err) => {
        assert.equal(err.code, 'ERR_SHMEM_UNSUPPORTED')
        assert.match(err.message, /22\.23\.3/)
        assert.match(err.message, /24\.16\.0/)
        assert.match(err.message, /26\.1\.0/)
        return true
      }
      assert.throws(() => seg.sharedArrayBuffer, unsupported)
      assert.throws(() => seg.view(Int32Array, 0, 4, { shared: true }), unsupported)
      // The rest of the segment works as before.
      assert.equal(seg.view(Int32Array, 0, 4, { shared: false }).buffer, seg.arrayBuffer)
    } finally {
      seg.close()
    }
  })

test('sharedArrayBuffer: one SharedArrayBuffer over the same memory as buffer',
  { skip: NEEDS_SAB }, () => {
    const seg = shmem.memfd(65536)
    const sab = seg.sharedArrayBuffer
    assert.ok(sab instanceof SharedArrayBuffer)
    assert.equal(Object.prototype.toString.call(sab), '[object SharedArrayBuffer]')
    assert.equal(sab.byteLength, 65536)
    assert.equal(seg.sharedArrayBuffer, sab, 'the same object every time')
    new Int32Array(sab)[3] = 0x01020304
    assert.equal(seg.buffer.readInt32LE(12), 0x01020304)
    seg.buffer[65535] = 9
    assert.equal(new Uint8Array(sab)[65535], 9)
    seg.close()
    assert.throws(() => seg.sharedArrayBuffer, { code: 'ERR_SHMEM_CLOSED' })
  })

test('view(Type, byteOffset, length, { shared: true }): every kind of view, over the one SAB',
  { skip: NEEDS_SAB }, () => {
    const seg = shmem.memfd(8192)
    try {
      const sab = seg.sharedArrayBuffer
      const i32 = seg.view(Int32Array, 16, 4, { shared: true })
      assert.equal(i32.buffer, sab)
      assert.equal(i32.byteOffset, 16)
      assert.equal(i32.length, 4)
      i32[0] = -5
      assert.equal(seg.buffer.readInt32LE(16), -5)
      const dv = seg.view(DataView, 100, 8, { shared: true })
      assert.equal(dv.buffer, sab)
      dv.setFloat64(0, Math.E, true)
      assert.equal(seg.buffer.readDoubleLE(100), Math.E)
      const buf = seg.view(Buffer, 200, 5, { shared: true })
      assert.equal(buf.buffer, sab)
      buf.write('hello')
      assert.equal(seg.buffer.toString('utf8', 200, 205), 'hello')
      class Words extends Uint32Array {}
      const words = seg.view(Words, 0, undefined, { shared: true })
      assert.ok(words instanceof Words)
      assert.equal(words.buffer, sab)
      assert.equal(words.length, 2048)
      // Without the option, or with shared: false, the ArrayBuffer as before.
      assert.equal(seg.view(Int32Array, 0, 1, { shared: false }).buffer, seg.arrayBuffer)
      assert.equal(seg.view(Int32Array, 0, 1, {}).buffer, seg.arrayBuffer)
      assert.throws(() => seg.view(Int32Array, 0, 1, { shared: 1 }),
        { code: 'ERR_INVALID_ARG_TYPE', message: /options\.shared/ })
      assert.throws(() => seg.view(Int32Array, 0, 1, 'shared'),
        { code: 'ERR_INVALID_ARG_TYPE', message: /options/ })
      assert.throws(() => seg.view(Int32Array, 2, 1, { shared: true }),
        { code: 'ERR_INVALID_ARG_VALUE' })
      assert.throws(() => seg.view(Int32Array, 0, 2049, { shared: true }),
        { code: 'ERR_OUT_OF_RANGE' })
    } finally {
      seg.close()
    }
    assert.throws(() => seg.view(Int32Array, 0, 1, { shared: true }), { code: 'ERR_SHMEM_CLOSED' })
  })

test('postMessage hands it to a worker; Atomics.wait and notify between the threads',
  { skip: NEEDS_SAB }, async (t) => {
    const seg = shmem.memfd(4096)
    t.after(() => seg.close())
    const v = seg.view(Int32Array, 0, 4, { shared: true })
    v[3] = 1234
    const w = startWorker(t, `
      const sab = await new Promise((resolve) => parentPort.once('message', resolve))
      const v = new Int32Array(sab)
      parentPort.postMessage({ isSab: sab instanceof SharedArrayBuffer, seen: v[3] })
      // Sleeps until the main thread stores 1 in v[0] and notifies.
      const r = Atomics.wait(v, 0, 0, 10000)
      Atomics.store(v, 1, 7)
      Atomics.notify(v, 1)
      parentPort.postMessage({ r })
    `)
    w.worker.postMessage(seg.sharedArrayBuffer)
    assert.deepEqual(await w.next(), { isSab: true, seen: 1234 })
    // Wakes the worker as soon as it sleeps: notify counts it once it does.
    Atomics.store(v, 0, 1)
    const end = Date.now() + 10000
    while (Atomics.notify(v, 0) === 0 && Atomics.load(v, 1) === 0 && Date.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    assert.equal(Atomics.wait(v, 1, 0, 10000) === 'timed-out', false)
    assert.equal(Atomics.load(v, 1), 7)
    const { r } = await w.next()
    assert.ok(r === 'ok' || r === 'not-equal', r)
    // The worker wrote through the same memory the segment maps.
    assert.equal(seg.buffer.readInt32LE(4), 7)
  })

test('shmem.wait and notify on a SAB view, with another process on the same words',
  { skip: NEEDS_SAB }, async (t) => {
    const name = trackPosix(uniqueName('sab'))
    const seg = shmem.create(name, 4096)
    t.after(() => {
      seg.close()
      try { shmem.unlink(name) } catch {}
    })
    const v = seg.view(Int32Array, 0, 4, { shared: true })
    assert.ok(v.buffer instanceof SharedArrayBuffer)

    // The child sleeps in shmem.wait on its own view; notify on this view wakes it (it counts
    // the child once the child sleeps).
    const c = startChild(t, { op: 'wait', name, offset: 0, index: 2, expected: 0, timeout: 10000 })
    await c.expect('ready')
    const end = Date.now() + 10000
    while (shmem.notify(v, 2) === 0) {
      assert.ok(Date.now() < end, 'the child never slept')
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    await c.expect('ok 0')
    assert.equal((await c.finish()).code, 0)

    // Ping-pong: this thread sleeps in shmem.wait on the SAB view, the child answers.
    const rounds = 20
    const p = startChild(t, { op: 'pong', name, offset: 0, index: 1, rounds })
    await p.expect('ready')
    for (let k = 1; k <= rounds; k++) {
      Atomics.store(v, 1, 2 * k - 1)
      shmem.notify(v, 1)
      while (Atomics.load(v, 1) !== 2 * k) {
        assert.notEqual(shmem.wait(v, 1, 2 * k - 1, 5000), 'timed-out', `round ${k}`)
      }
    }
    await p.expect('done')
    assert.equal((await p.finish()).code, 0)
  })

test('a SharedArrayBuffer outlives close(): a worker keeps it, the mapping goes with the last one',
  { skip: NEEDS_SAB }, async () => {
    await inChild(`
      const { Worker } = require('worker_threads')
      const { once } = require('events')
      const fs = require('fs')
      const tag = 'shmem-sab-life-' + process.pid
      const mapped = () => fs.readFileSync('/proc/self/maps', 'utf8').includes('memfd:' + tag)
      const settle = async () => {
        for (let i = 0; i < 3; i++) {
          global.gc()
          await new Promise((resolve) => setImmediate(resolve))
        }
      }
      const seg = shmem.memfd(65536, { name: tag })
      assert.ok(mapped())
      let words = seg.view(Int32Array, 0, 16384, { shared: true })
      words[0] = 41
      const w = new Worker(\`
        const { parentPort } = require('worker_threads')
        let held // the worker's own reference, until it ends
        parentPort.once('message', (sab) => {
          held = sab
          const v = new Int32Array(held)
          parentPort.postMessage('got it')
          Atomics.wait(v, 1, 0) // until the main thread has closed the segment
          let sum = 0
          for (let i = 0; i < 100000; i++) {
            v[2 + (i % 1000)] = i
            sum += v[2 + (i % 1000)]
          }
          v[0]++
          parentPort.postMessage({ first: v[0], sum, length: sab.byteLength })
          parentPort.once('message', () => {
            v[0]++ // still mapped: the main thread let go of its own, not this one
            process.exit(0) // drops it as the worker ends
          })
        })\`, { eval: true })
      w.postMessage(seg.sharedArrayBuffer)
      assert.equal((await once(w, 'message'))[0], 'got it')

      seg.close()
      assert.throws(() => seg.sharedArrayBuffer, { code: 'ERR_SHMEM_CLOSED' })
      assert.throws(() => shmem.wait(words, 0, 41, 0), { code: 'ERR_SHMEM_CLOSED' })
      // This thread's own view was not detached either: it still reads and writes.
      assert.equal(words.length, 16384)
      assert.equal(words[0], 41)
      Atomics.store(words, 1, 1)
      Atomics.notify(words, 1)
      const [report] = await once(w, 'message')
      let sum = 0
      for (let i = 0; i < 100000; i++) sum += i
      assert.deepEqual(report, { first: 42, sum, length: 65536 })
      assert.equal(words[0], 42, 'the worker wrote the memory this thread sees')

      // This thread lets go of its views; the worker still holds the memory.
      words = null
      await settle()
      assert.ok(mapped(), 'mapped while the worker holds a SharedArrayBuffer over it')

      w.postMessage('exit')
      await once(w, 'exit')
      const end = Date.now() + 10000
      while (mapped() && Date.now() < end) await settle()
      assert.ok(!mapped(), 'unmapped once the last SharedArrayBuffer was collected')
      console.log('ok')
    `, { nodeArgs: ['--expose-gc'] })
  })

test('a segment larger than one SharedArrayBuffer may hold: windows, as for ArrayBuffers',
  { skip: NEEDS_SAB }, async () => {
    // No segment here exceeds this Node's MAX_LENGTH (2^53 - 1): the child sees 64 KiB
    // instead, as lib/segment.js reads it when it loads.
    const dir = tempDir()
    const preload = path.join(dir, 'small-max-length.js')
    fs.writeFileSync(preload, `
      const Module = require('module')
      const load = Module._load
      Module._load = function (request, ...rest) {
        const m = load.call(this, request, ...rest)
        if (request !== 'buffer') return m
        return { ...m, constants: { ...m.constants, MAX_LENGTH: 65536 } }
      }`)
    const file = path.join(dir, 'windows.js')
    fs.writeFileSync(file, `
      const assert = require('assert')
      const shmem = require(${JSON.stringify(path.resolve(__dirname, '..'))})
      const seg = shmem.memfd(4 * 65536)
      assert.throws(() => seg.sharedArrayBuffer, { code: 'ERR_OUT_OF_RANGE', message: /view\\(/ })
      const first = seg.view(Int32Array, 0, undefined, { shared: true })
      assert.ok(first.buffer instanceof SharedArrayBuffer)
      assert.equal(first.length, 65536 / 4, 'with no length: the window one buffer may hold')
      const far = seg.view(Int32Array, 3 * 65536 + 16, 4, { shared: true })
      assert.ok(far.buffer instanceof SharedArrayBuffer)
      assert.equal(far.buffer.byteLength, 16)
      far[0] = 99
      assert.equal(seg.view(Int32Array, 3 * 65536 + 16, 1)[0], 99)
      // shmem.notify finds the word behind a window too.
      assert.equal(shmem.notify(far, 0), 0)
      assert.throws(() => seg.view(Uint8Array, 0, 65537, { shared: true }),
        { code: 'ERR_OUT_OF_RANGE' })
      seg.close()
      assert.equal(far[0], 99, 'a window outlives close() as the whole buffer does')
      console.log('ok')`)
    const r = await runNode(file, [], { nodeArgs: ['--require', preload] })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'ok')
  })
