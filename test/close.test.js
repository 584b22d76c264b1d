'use strict'
// close() detaches every Buffer, TypedArray and DataView the segment handed out, and nothing
// done with them afterwards reaches the unmapped memory. Each case runs in a child process:
// a crash would show as a signal or a non-zero exit code.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { runSnippet, cleanup } = require('./helpers')

after(cleanup)

async function expectCleanExit (code, opts) {
  const r = await runSnippet(code, opts)
  assert.equal(r.signal, null, `the child died of ${r.signal}\n${r.stderr}`)
  assert.equal(r.code, 0, r.stderr)
  return r
}

test('every view of every kind is detached by close(), and using them never crashes', async () => {
  const r = await expectCleanExit(`
    const fs = require('fs'), crypto = require('crypto'), zlib = require('zlib')
    const name = '/shmem-test-uac-' + process.pid
    const segs = [
      shmem.create(name, 65536),
      shmem.memfd(65536),
      shmem.sysv.create(null, 65536),
      shmem.mapFile(require('os').tmpdir() + '/shmem-test-uac-' + process.pid, { size: 65536, create: true })
    ]
    // Names removed now: the mappings live on, and nothing is left even if this child fails.
    segs[2].remove()
    shmem.unlink(name)
    fs.unlinkSync(require('os').tmpdir() + '/shmem-test-uac-' + process.pid)
    let attempts = 0, threw = 0
    function tryIt (fn) {
      attempts++
      try { fn() } catch (e) { threw++; if (!(e instanceof TypeError || e instanceof RangeError || e.code)) throw e }
    }
    for (const s of segs) {
      const buf = s.buffer
      const views = [buf, s.view(Uint8Array), s.view(Int32Array, 4, 10), s.view(Float64Array),
        s.view(BigInt64Array), s.view(Buffer, 10, 100), buf.subarray(5, 50)]
      const dv = s.view(DataView, 0, 64)
      buf.fill(0x41)
      s.close()
      for (const v of views) assert.equal(v.length, 0)
      assert.equal(buf.byteLength, 0)
      for (const v of views) {
        tryIt(() => v[0] = 1)
        tryIt(() => v[0])
        tryIt(() => v.fill(1))
        tryIt(() => v.set([1, 2, 3]))
        tryIt(() => v.subarray(0, 10))
        tryIt(() => v.slice(0, 10))
        tryIt(() => [...v])
        tryIt(() => v.indexOf(65))
        tryIt(() => v.reverse())
        tryIt(() => v.sort())
        tryIt(() => v.copyWithin(0, 10, 20))
        tryIt(() => JSON.stringify(v))
      }
      tryIt(() => Atomics.add(s.closed && views[2], 0, 1))
      tryIt(() => Atomics.store(views[2], 0, 1))
      tryIt(() => Atomics.notify(views[2], 0))
      tryIt(() => buf.write('hello'))
      tryIt(() => buf.toString())
      tryIt(() => buf.toString('hex'))
      tryIt(() => buf.readUInt32LE(0))
      tryIt(() => buf.writeDoubleBE(1.5, 0))
      tryIt(() => buf.swap16())
      tryIt(() => buf.equals(Buffer.alloc(0)))
      tryIt(() => Buffer.compare(buf, Buffer.from('x')))
      tryIt(() => buf.copy(Buffer.alloc(10)))
      tryIt(() => Buffer.alloc(10).copy(buf))
      tryIt(() => Buffer.concat([buf, Buffer.from('x')]))
      tryIt(() => Buffer.from(buf))
      tryIt(() => buf.includes('A'))
      tryIt(() => buf.lastIndexOf('A'))
      tryIt(() => new TextDecoder().decode(buf))
      tryIt(() => new TextEncoder().encodeInto('abc', views[1]))
      tryIt(() => crypto.createHash('sha256').update(buf).digest())
      tryIt(() => crypto.randomFillSync(buf))
      tryIt(() => zlib.deflateSync(buf))
      tryIt(() => fs.writeSync(1, buf))
      tryIt(() => structuredClone(buf))
      tryIt(() => dv.getUint32(0))
      tryIt(() => dv.setFloat64(0, 1))
      tryIt(() => new Uint8Array(buf.buffer))
      tryIt(() => buf.buffer.slice(0))
    }
    console.log(JSON.stringify({ attempts, threw }))
  `)
  const { attempts } = JSON.parse(r.stdout.trim().split('\n').pop())
  assert.ok(attempts > 100)
})

test('a window of a large segment is detached by close() too', async () => {
  // 5 GiB, sparse. Past buffer.constants.MAX_LENGTH (2^32 on Node 20) every view is its own
  // ArrayBuffer (a window); under it (2^53 - 1 from Node 22 on) the views share the
  // segment's one ArrayBuffer. close() detaches them either way.
  await expectCleanExit(`
    const { constants: { MAX_LENGTH } } = require('buffer')
    const name = '/shmem-test-win-' + process.pid
    const s = shmem.create(name, 5 * 1024 ** 3)
    try {
      const w1 = s.view(Uint8Array, 5 * 1024 ** 3 - 4096, 4096)
      const w2 = s.view(Float64Array, 8, 16)
      w1[4095] = 9
      assert.equal(w1.buffer === w2.buffer, 5 * 1024 ** 3 <= MAX_LENGTH,
        'windows exactly where the size is over the limit of the runtime')
      s.close()
      assert.equal(w1.length, 0)
      assert.equal(w2.length, 0)
      assert.equal(w1[4095], undefined)
    } finally {
      shmem.unlink(name)
    }
  `)
})

test('a Buffer outlives its collected Segment; collecting both unmaps without a crash', async () => {
  const r = await expectCleanExit(`
    const name = '/shmem-test-gc-' + process.pid
    function make () {
      const s = shmem.create(name, 1 << 20)
      s.buffer.write('still here', 1000)
      return s.view(Buffer, 1000, 10)     // the Segment itself is dropped
    }
    let buf = make()
    for (let i = 0; i < 5; i++) { global.gc(); await new Promise((r) => setImmediate(r)) }
    assert.equal(buf.toString(), 'still here', 'the mapping lives while a view does')
    buf[0] = 0x53
    const maps = () => require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.includes(name)).length
    assert.equal(maps(), 1)
    buf = null
    for (let i = 0; i < 10 && maps() > 0; i++) { global.gc(); await new Promise((r) => setTimeout(r, 10)) }
    assert.equal(maps(), 0, 'unmapped once nothing reaches it')
    assert.ok(shmem.unlink(name), 'collection never unlinks the name')
    // Many short-lived segments, never closed: all unmapped by the collector.
    for (let i = 0; i < 2000; i++) shmem.memfd(65536).view(Uint8Array)[0] = 1
    for (let i = 0; i < 10; i++) { global.gc(); await new Promise((r) => setTimeout(r, 10)) }
    const memfds = require('fs').readdirSync('/proc/self/fd').length
    console.log(memfds)
  `, { args: [], env: {} , timeout: 60000, nodeArgs: ['--expose-gc'] })
  assert.ok(Number(r.stdout.trim()) < 200, 'fds of collected segments are closed')
})

test('transferring a segment ArrayBuffer copies it instead of detaching it', async () => {
  await expectCleanExit(`
    const { MessageChannel } = require('worker_threads')
    const s = shmem.memfd(4096)
    s.buffer.write('keep')
    const ab = s.arrayBuffer
    try { structuredClone(ab, { transfer: [ab] }) } catch {}
    const { port1, port2 } = new MessageChannel()
    try { port1.postMessage(ab, [ab]) } catch {}
    port1.close()
    assert.equal(ab.byteLength, 4096)
    assert.equal(s.buffer.toString('utf8', 0, 4), 'keep')
    s.close()
  `)
})
