'use strict'
// close() and the ArrayBuffers over a mapping, on every runtime: the plain close that aborted
// Node 24 and 26 (a markAsUntransferable mark is a V8 detach key there, and
// napi_detach_arraybuffer aborts on it), and every way a buffer can escape close()'s detach
// (transfer(), a postMessage transfer list, a mark of the user's): each keeps the mapping
// until it is collected, so no touch faults. Each case runs in a child: a crash is its exit.
const { test } = require('node:test')
const assert = require('assert')
const { runSnippet, uniqueName, trackPosix, tempDir } = require('./helpers')
const fs = require('fs')
const path = require('path')

const hasTransfer = typeof ArrayBuffer.prototype.transfer === 'function'
const noTransfer = hasTransfer ? false : 'this runtime has no ArrayBuffer.prototype.transfer'

function assertClean (r) {
  assert.strictEqual(r.signal, null, `child died by ${r.signal}\n${r.stderr}`)
  assert.strictEqual(r.code, 0, r.stderr)
}

// Mappings of the object in /proc/self/maps, by its /dev/shm path.
const MAPPINGS = `
  const mappings = (name) => require('fs').readFileSync('/proc/self/maps', 'utf8')
    .split('\\n').filter((l) => l.endsWith('/dev/shm' + name) || l.includes('/dev/shm' + name + ' ')).length
`

test('create, .buffer, close: the buffer is detached and the process lives (aborted on Node 24)', async () => {
  const name = trackPosix(uniqueName('detach-plain'))
  const r = await runSnippet(`${MAPPINGS}
    const seg = shmem.create(${JSON.stringify(name)}, 4096, { autoUnlink: true })
    const buf = seg.buffer
    const words = seg.view(Int32Array)
    buf[0] = 7
    assert.strictEqual(mappings(${JSON.stringify(name)}), 1)
    seg.close()
    assert.strictEqual(buf.length, 0)
    assert.strictEqual(words.length, 0)
    assert.strictEqual(seg.closed, true)
    assert.strictEqual(mappings(${JSON.stringify(name)}), 0, 'close() unmaps at once')
    console.log('ok')
  `)
  assertClean(r)
  assert.match(r.stdout, /^ok$/m)
})

test('a transferred ArrayBuffer outlives close() without a fault, and the mapping goes when it is collected',
  { skip: noTransfer }, async () => {
    const name = trackPosix(uniqueName('detach-transfer'))
    const r = await runSnippet(`${MAPPINGS}
      const seg = shmem.create(${JSON.stringify(name)}, 4096, { autoUnlink: true })
      seg.buffer[1] = 42
      let moved = new Uint8Array(seg.arrayBuffer.transfer())
      assert.strictEqual(seg.buffer.length, 0, 'transfer() detached the original')
      seg.close()
      // The memory is still the segment's: the mapping stayed for the moved buffer.
      assert.strictEqual(moved[1], 42)
      moved[2] = 9
      assert.strictEqual(mappings(${JSON.stringify(name)}), 1)
      moved = null
      for (let i = 0; i < 50 && mappings(${JSON.stringify(name)}) > 0; i++) {
        globalThis.gc()
        await new Promise((resolve) => setImmediate(resolve))
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      assert.strictEqual(mappings(${JSON.stringify(name)}), 0, 'unmapped once collected')
      console.log('ok')
    `, { nodeArgs: ['--expose-gc'] })
    assertClean(r)
    assert.match(r.stdout, /^ok$/m)
  })

test('a view over a transferred buffer and a second close: no fault, no throw', { skip: noTransfer }, async () => {
  const r = await runSnippet(`
    const seg = shmem.memfd(8192)
    const words = new Int32Array(seg.view(Int32Array).buffer.transfer())
    seg.close()
    seg.close()
    Atomics.add(words, 0, 5)
    assert.strictEqual(words[0], 5)
    assert.throws(() => seg.buffer, { code: 'ERR_SHMEM_CLOSED' })
    console.log('ok')
  `)
  assertClean(r)
  assert.match(r.stdout, /^ok$/m)
})

test('a buffer moved to a worker by a transfer list stays valid there after close() here', async () => {
  const name = trackPosix(uniqueName('detach-worker'))
  const r = await runSnippet(`
    const { Worker } = require('worker_threads')
    const seg = shmem.create(${JSON.stringify(name)}, 4096, { autoUnlink: true })
    seg.buffer[0] = 1
    const worker = new Worker(\`
      const { parentPort } = require('worker_threads')
      parentPort.once('message', ({ ab }) => {
        const u8 = new Uint8Array(ab)
        parentPort.postMessage('got')
        parentPort.once('message', () => {
          u8[0] += 1
          parentPort.postMessage(u8[0])
        })
      })
    \`, { eval: true })
    const next = () => new Promise((resolve) => worker.once('message', resolve))
    const ab = seg.arrayBuffer
    try {
      worker.postMessage({ ab }, [ab])
    } catch (err) {
      // Node 22 on refuses to move a buffer over native memory to another thread at all.
      assert.strictEqual(err.name, 'DataCloneError')
      seg.close()
      await worker.terminate()
      console.log('ok, refused')
      return
    }
    assert.strictEqual(await next(), 'got')
    seg.close()
    worker.postMessage('touch')
    assert.strictEqual(await next(), 2)
    await worker.terminate()
    console.log('ok, moved')
  `)
  assertClean(r)
  assert.match(r.stdout, /^ok, (moved|refused)$/m)
})

test('a buffer the user marked untransferable is left attached by close(), not an abort', async () => {
  const r = await runSnippet(`
    const { markAsUntransferable } = require('worker_threads')
    const seg = shmem.memfd(4096)
    const buf = seg.buffer
    markAsUntransferable(seg.arrayBuffer)
    seg.close()
    // Where the mark is a V8 detach key (Node 24 on) the buffer stays attached and mapped;
    // elsewhere close() detaches it as any other.
    if (buf.length !== 0) {
      buf[0] = 3
      assert.strictEqual(buf[0], 3)
    }
    console.log(buf.length ? 'ok, kept' : 'ok, detached')
    // Node 24 and 26 then abort in their own environment cleanup, which detaches every
    // external buffer without the key (any addon's buffer, closed or not): leave without it.
    process.reallyExit(0)
  `)
  assertClean(r)
  assert.match(r.stdout, /^ok, (kept|detached)$/m)
})

test('segments and map() Buffers in a worker: closed, dropped and the worker ended, no abort', async () => {
  const name = trackPosix(uniqueName('detach-wexit'))
  const dir = tempDir()
  const file = path.join(dir, 'w.bin')
  fs.writeFileSync(file, Buffer.alloc(4096))
  const workerCode = `
    const shmem = require(${JSON.stringify(path.resolve(__dirname, '..'))})
    const fs = require('fs')
    const seg = shmem.create(${JSON.stringify(name)}, 4096, { autoUnlink: true })
    seg.buffer[0] = 1
    const kept = shmem.memfd(4096)
    kept.buffer[0] = 2
    const fd = fs.openSync(${JSON.stringify(file)}, 'r+')
    const { PROT_READ, PROT_WRITE, MAP_SHARED } = shmem.constants
    const m = shmem.map(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd)
    m[0] = 5
    seg.close()
    require('worker_threads').parentPort.postMessage('done')
  `
  const r = await runSnippet(`
    const { Worker } = require('worker_threads')
    const w = new Worker(${JSON.stringify(workerCode)}, { eval: true })
    await new Promise((resolve) => w.once('message', resolve))
    await new Promise((resolve) => w.once('exit', resolve))
    console.log('ok')
  `)
  assertClean(r)
  assert.match(r.stdout, /^ok$/m)
  assert.strictEqual(fs.readFileSync(file)[0], 5)
})
