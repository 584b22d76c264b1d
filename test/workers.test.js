'use strict'
// The addon is context-aware: it loads in the main thread and in several workers at once,
// each with its own state, and they all see the same shared memory.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { Worker } = require('worker_threads')
const { shmem, uniqueName, trackPosix, cleanup, runSnippet } = require('./helpers')

after(cleanup)

const root = require('path').resolve(__dirname, '..')

function runWorker (code, workerData) {
  return new Promise((resolve, reject) => {
    const w = new Worker(`const shmem = require(${JSON.stringify(root)}); ${code}`,
      { eval: true, workerData })
    let result
    w.on('message', (m) => { result = m })
    w.on('error', reject)
    w.on('exit', (code) => code === 0 ? resolve(result) : reject(new Error(`worker exit ${code}`)))
  })
}

test('two workers at once open the same segment and see each other\'s writes', async () => {
  const name = trackPosix(uniqueName('wk'))
  const seg = shmem.create(name, 4096)
  const counter = seg.view(Int32Array, 0, 4)
  const code = `
    const { workerData, parentPort } = require('worker_threads')
    const seg = shmem.open(workerData.name)
    const v = seg.view(Int32Array, 0, 4)
    for (let i = 0; i < 100000; i++) Atomics.add(v, 0, 1)
    Atomics.add(v, 1, 1)
    // Wait until both workers have finished counting, then read the other's mark.
    while (Atomics.load(v, 1) < 2) {}
    seg.buffer.write('worker ' + workerData.id, 64 + 32 * workerData.id)
    parentPort.postMessage({ total: Atomics.load(v, 0), kind: seg.kind })
    seg.close()
  `
  const results = await Promise.all([
    runWorker(code, { name, id: 0 }),
    runWorker(code, { name, id: 1 })
  ])
  for (const r of results) {
    assert.equal(r.kind, 'posix')
    assert.equal(r.total, 200000)
  }
  assert.equal(counter[0], 200000)
  assert.equal(seg.buffer.toString('utf8', 64, 72), 'worker 0')
  assert.equal(seg.buffer.toString('utf8', 96, 104), 'worker 1')
  seg.close()
  seg.unlink()
})

test('a worker that ends with segments and buffers still mapped tears down cleanly', async () => {
  // Run in a child so that a crash at teardown shows as an exit code, not a dead test runner.
  const r = await runSnippet(`
    const { Worker } = require('worker_threads')
    const name = '/shmem-test-wkteardown-' + process.pid
    const seg = shmem.create(name, 1 << 20)
    let done = 0
    for (let i = 0; i < 4; i++) {
      const w = new Worker(\`
        const shmem = require(\${JSON.stringify(${JSON.stringify(root)})})
        const s = shmem.open(\${JSON.stringify(name)})
        const views = [s.buffer, s.view(Float64Array), s.view(DataView, 8)]
        globalThis.keep = views
        s.buffer[\${i}] = 1
        const m = shmem.memfd(8192); m.buffer[0] = 1
        if (\${i} % 2) process.exit(0)  // end abruptly in half of them
      \`, { eval: true })
      w.on('exit', () => { if (++done === 4) finish() })
    }
    function finish () {
      assert.deepEqual([...seg.buffer.subarray(0, 4)], [1, 1, 1, 1])
      seg.close()
      shmem.unlink(name)
      console.log('ok')
    }
  `)
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.signal, null)
  assert.equal(r.stdout.trim(), 'ok')
})
