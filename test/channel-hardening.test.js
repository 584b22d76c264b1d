'use strict'
// Channels against what an adversarial review found: pending async calls dropped by garbage
// collection, workers that could not be stopped in a blocking wait, detached views, and a
// source that grows while it is copied. Each runs in a child process: a hang is a timeout, a
// crash an exit by signal.

const test = require('node:test')
const assert = require('assert')
const path = require('path')
const { shmem, uniqueName, trackPosix, runSnippet } = require('./helpers')

const KINDS = ['spsc', 'mpsc', 'mpmc']
const root = JSON.stringify(path.resolve(__dirname, '..'))

test('a pending receiveAsync/sendAsync keeps its Channel alive when only an async function holds it', async () => {
  for (const kind of KINDS) {
    const name = trackPosix(uniqueName(`gc-${kind}`))
    const full = trackPosix(uniqueName(`gc-full-${kind}`))
    const r = await runSnippet(`
      const { Channel } = shmem
      const [name, full, kind] = process.argv.slice(2)
      // The creator's handles: the messages come from here, after the collections.
      const tx = Channel.create(name, { capacity: 4096, kind })
      const rx = Channel.create(full, { capacity: 4096, kind })
      async function consume () {
        const ch = Channel.open(name)
        const got = []
        for (;;) {
          const m = (await ch.receiveAsync()).toString()
          got.push(m)
          if (m === 'bye') break
        }
        ch.close()
        console.log('received ' + got.join(','))
      }
      async function produce () {
        const ch = Channel.open(full)
        while (ch.send('fill'));
        await ch.sendAsync('late')
        ch.close()
        console.log('sent late')
      }
      consume()
      produce()
      // Only the suspended functions hold those Channels now: collect, with ordinary
      // allocation too, then let the other side move.
      await new Promise((resolve) => setTimeout(resolve, 20))
      for (let i = 0; i < 5; i++) {
        globalThis.gc()
        const junk = []
        for (let j = 0; j < 1e4; j++) junk.push({ j })
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      tx.send('hello')
      tx.send('bye')
      while (rx.receive() !== null);
      tx.close()
      rx.close()
    `, { args: [name, full, kind], nodeArgs: ['--expose-gc'], timeout: 20000 })
    assert.strictEqual(r.signal, null, r.stderr)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.match(r.stdout, /^received hello,bye$/m, `${kind}: the consumer never resumed`)
    assert.match(r.stdout, /^sent late$/m, `${kind}: the producer never resumed`)
    shmem.unlink(name)
    shmem.unlink(full)
  }
})

// A worker in each untimed blocking call; the main thread then terminates it (terminate()
// must settle) or calls process.exit() (the process must end).
const BLOCKING = {
  'receiveSync spsc': ['spsc', 'ch.receiveSync()'],
  'receiveSync mpsc': ['mpsc', 'ch.receiveSync()'],
  'receiveSync mpmc': ['mpmc', 'ch.receiveSync()'],
  'peekSync mpmc': ['mpmc', 'ch.peekSync()'],
  'peekSync spsc': ['spsc', 'ch.peekSync()'],
  'sendSync Buffer mpsc': ['mpsc', 'while (ch.send(buf)); ch.sendSync(buf)'],
  'sendSync Buffer spsc': ['spsc', 'while (ch.send(buf)); ch.sendSync(buf)'],
  'sendSync string mpmc': ['mpmc', "while (ch.send('x')); ch.sendSync('x')"]
}

for (const [what, [kind, call]] of Object.entries(BLOCKING)) {
  for (const end of ['terminate', 'exit']) {
    test(`a worker blocked in an untimed ${what} ends on ${end === 'terminate' ? 'worker.terminate()' : 'process.exit()'}`, async () => {
      const name = trackPosix(uniqueName('blocked'))
      const r = await runSnippet(`
        const { Worker } = require('worker_threads')
        const { once } = require('events')
        const keep = shmem.Channel.create(${JSON.stringify(name)}, { capacity: 4096, kind: ${JSON.stringify(kind)} })
        const w = new Worker(\`
          const shmem = require(${root.replace(/"/g, '\\"')})
          const { parentPort } = require('worker_threads')
          const ch = shmem.Channel.open(${JSON.stringify(name)})
          const buf = Buffer.alloc(64)
          parentPort.postMessage('blocking')
          ${call.replace(/'/g, "\\'")}
          parentPort.postMessage('returned')\`, { eval: true })
        assert.strictEqual((await once(w, 'message'))[0], 'blocking')
        await new Promise((resolve) => setTimeout(resolve, 150))
        const t0 = Date.now()
        ${end === 'terminate'
          ? "await w.terminate(); console.log('terminated in ' + (Date.now() - t0) + ' ms'); keep.close()"
          : "console.log('exiting'); process.exit(0)"}
      `, { timeout: 15000 })
      shmem.unlink(name)
      assert.strictEqual(r.signal, null, r.stderr)
      assert.strictEqual(r.code, 0, r.stderr)
      assert.match(r.stdout, end === 'terminate' ? /^terminated in \d+ ms$/m : /^exiting$/m)
    })
  }
}

test('a detached view or ArrayBuffer is ERR_INVALID_ARG_VALUE on every path, and nothing is sent', (t) => {
  for (const kind of KINDS) {
    const name = trackPosix(uniqueName('detached'))
    const ch = shmem.Channel.create(name, { capacity: 4096, kind })
    t.after(() => ch.close())
    // The first send of a handle goes through C; then spsc's Uint8Array sends run in JS.
    assert.strictEqual(ch.send(new Uint8Array(8)), true)
    assert.strictEqual(ch.send(new Uint8Array(8)), true)
    const detached = (make) => {
      const ab = new ArrayBuffer(16)
      const view = make(ab)
      structuredClone(ab, { transfer: [ab] })
      return view
    }
    const cases = [
      ['Uint8Array', () => detached((ab) => new Uint8Array(ab))],
      ['Buffer', () => detached((ab) => Buffer.from(ab))],
      ['Float64Array', () => detached((ab) => new Float64Array(ab))],
      ['DataView', () => detached((ab) => new DataView(ab))],
      ['ArrayBuffer', () => detached((ab) => ab)]
    ]
    for (const [label, make] of cases) {
      for (const call of ['send', 'sendSync', 'trySendSync']) {
        const data = make()
        const fn = call === 'send'
          ? () => ch.send(data)
          : call === 'sendSync' ? () => ch.sendSync(data) : () => ch.sendSync(data, { timeout: 0 })
        assert.throws(fn, { code: 'ERR_INVALID_ARG_VALUE', message: /must not be detached/ },
          `${kind} ${call}(${label})`)
      }
    }
    return Promise.all(cases.map(([label, make]) =>
      assert.rejects(ch.sendAsync(make()), { code: 'ERR_INVALID_ARG_VALUE' }, `${kind} sendAsync(${label})`)))
      .then(() => {
        // A fixed-length view left out of bounds by a resizable ArrayBuffer that shrank: its
        // length reads 0, and it is refused as well rather than sent empty.
        const ab = new ArrayBuffer(16, { maxByteLength: 64 })
        const view = new Uint8Array(ab, 0, 16)
        ab.resize(8)
        for (const send of [() => ch.send(view), () => ch.sendSync(view, { timeout: 0 })]) {
          assert.throws(send, { code: 'ERR_INVALID_ARG_VALUE', message: /out of the bounds/ })
        }
        assert.strictEqual(ch.stats().messagesSent, 2, `${kind}: something detached was sent`)
        // An empty view that is not detached is an empty message, on every path.
        assert.strictEqual(ch.send(new Uint8Array(0)), true)
        assert.strictEqual(ch.send(new DataView(new ArrayBuffer(0))), true)
        assert.strictEqual(ch.stats().messagesSent, 4)
      })
  }
})

test('spsc: a source another thread grows during send() is copied for its length at the call',
  { skip: typeof SharedArrayBuffer.prototype.grow !== 'function' && 'no growable SharedArrayBuffer here' },
  async () => {
    const name = trackPosix(uniqueName('grow'))
    const r = await runSnippet(`
      const { Worker } = require('worker_threads')
      const ch = shmem.Channel.create(process.argv[2], { capacity: 1 << 16, kind: 'spsc' })
      const rx = shmem.Channel.open(process.argv[2])
      const MAX = 30000 // under maxMessageSize (32752)
      let bad = 0
      let sent = 0
      const check = (m) => {
        // (Bytes past 2048 may still be 0: the worker fills what it grew just after.)
        if (m.length < 2048 || m.length > MAX || m[0] !== 0xaa || m[2047] !== 0xaa) bad++
      }
      for (let round = 0; round < 10; round++) {
        const sab = new SharedArrayBuffer(2048, { maxByteLength: MAX })
        // Length-tracking: its length follows the buffer's as another thread grows it.
        const view = new Uint8Array(sab)
        const w = new Worker(\`
          const { workerData: sab } = require('worker_threads')
          new Uint8Array(sab).fill(0xaa)
          while (sab.byteLength + 4 <= sab.maxByteLength) {
            sab.grow(sab.byteLength + 4)
            new Uint8Array(sab, sab.byteLength - 4).fill(0xaa)
          }\`, { eval: true, workerData: sab })
        view.fill(0xaa)
        // The ring kept full, so that a copy past its record lands on the oldest unread one.
        while (sab.byteLength + 4 <= MAX) {
          while (ch.send(view)) sent++
          const m = rx.receive()
          if (m !== null) check(m)
        }
        await new Promise((resolve) => w.once('exit', resolve))
        for (let m; (m = rx.receive()) !== null;) check(m)
      }
      ch.send('end')
      const last = rx.receive()
      console.log('bad ' + bad + ' last ' + (last && last.toString()) + ' sent ' + sent)
      ch.close()
      rx.close()
    `, { args: [name], timeout: 60000 })
    shmem.unlink(name)
    assert.strictEqual(r.signal, null, r.stderr)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.match(r.stdout, /^bad 0 last end sent \d+$/m)
  })

test("an AbortSignal that fires after the channel's segment was closed rejects, not a crash", async () => {
  const r = await runSnippet(`
    const seg = shmem.memfd(8192)
    const ch = shmem.Channel.init(seg, 0, 384 + 1024, { kind: 'mpsc', capacity: 1024 })
    const p = ch.receiveAsync({ timeout: 1000, signal: AbortSignal.timeout(20) })
    seg.close()
    await assert.rejects(p, { code: /^(ABORT_ERR|ERR_SHMEM_CLOSED)$/ })
    await new Promise((resolve) => setTimeout(resolve, 50))
    console.log('alive')
  `)
  assert.strictEqual(r.signal, null, r.stderr)
  assert.strictEqual(r.code, 0, r.stderr)
  assert.match(r.stdout, /^alive$/m)
})

test("closing a channel's segment under a pending receiveAsync/sendAsync rejects them (no timeout)", async () => {
  for (const kind of KINDS) {
    const r = await runSnippet(`
      const { Channel } = shmem
      const kind = process.argv[2]
      const size = Channel.byteLength({ capacity: 4096, kind })
      const seg = shmem.memfd(2 * size)
      const rx = Channel.init(seg, 0, size, { capacity: 4096, kind })
      const tx = Channel.init(seg, size, size, { capacity: 4096, kind })
      while (tx.send('fill'));
      const pending = [rx.receiveAsync(), tx.sendAsync('more')]
      setTimeout(() => seg.close(), 30)
      const results = await Promise.allSettled(pending)
      console.log(results.map((x) => x.status + ' ' + (x.reason && x.reason.code)).join(', '))
    `, { args: [kind], timeout: 10000 })
    assert.strictEqual(r.signal, null, r.stderr)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.match(r.stdout, /^rejected ERR_SHMEM_CLOSED, rejected ERR_SHMEM_CLOSED$/m, kind)
  }
})
