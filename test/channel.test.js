'use strict'
// Channels in one process: the API's shape, sizes, order, wrap-around, zero copy, waiting,
// async, errors; garbage in the ring runs in a child process.

const test = require('node:test')
const assert = require('assert')
const { shmem, uniqueName, trackPosix, runNode, runSnippet, fixture } = require('./helpers')
const { Channel } = shmem

function create (t, options = { capacity: 4096, kind: 'spsc' }) {
  const name = trackPosix(uniqueName('channel'))
  const ch = Channel.create(name, options)
  t.after(() => {
    ch.close()
    try { shmem.unlink(name) } catch {}
  })
  return { ch, name }
}

test('create, open, send and receive in order, every payload type', (t) => {
  const { ch, name } = create(t, { capacity: 4096, kind: 'mpsc' })
  assert.strictEqual(ch.kind, 'mpsc')
  assert.strictEqual(ch.capacity, 4096)
  assert.strictEqual(ch.maxMessageSize, 2032)
  const rx = Channel.open(name)
  t.after(() => rx.close())
  assert.strictEqual(rx.receive(), null)
  assert.strictEqual(ch.send('héllo'), true)
  assert.strictEqual(ch.send(Buffer.from('buffer')), true)
  assert.strictEqual(ch.send(new Uint16Array([1, 2])), true)
  assert.strictEqual(ch.send(new DataView(new ArrayBuffer(3))), true)
  assert.strictEqual(ch.send(new Uint8Array([9, 8, 7]).buffer), true)
  assert.strictEqual(ch.send(''), true)
  assert.strictEqual(rx.receive().toString(), 'héllo')
  assert.strictEqual(rx.receive().toString(), 'buffer')
  assert.deepStrictEqual([...rx.receive()], [1, 0, 2, 0])
  assert.deepStrictEqual([...rx.receive()], [0, 0, 0])
  assert.deepStrictEqual([...rx.receive()], [9, 8, 7])
  const empty = rx.receive()
  assert.ok(Buffer.isBuffer(empty))
  assert.strictEqual(empty.length, 0)
  assert.strictEqual(rx.receive(), null)
  // The message is the caller's copy: the ring moving on does not change it.
  ch.send('first')
  const first = rx.receive()
  ch.send('other')
  assert.strictEqual(first.toString(), 'first')
  const s = rx.stats()
  assert.strictEqual(s.messagesSent, 8)
  assert.strictEqual(s.messagesReceived, 7)
  assert.strictEqual(s.senders, 1)
  assert.strictEqual(s.receivers, 1)
  assert.strictEqual(s.capacity, 4096)
  assert.ok(s.used > 0)
})

test('byteLength, rounding and option errors', () => {
  assert.strictEqual(Channel.byteLength({ capacity: 1000, kind: 'spsc' }), 384 + 1024)
  assert.strictEqual(Channel.byteLength({ capacity: 1, kind: 'mpmc' }), 384 + 64)
  assert.throws(() => Channel.byteLength({ kind: 'spsc' }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => Channel.byteLength({ capacity: 0, kind: 'spsc' }), { code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => Channel.byteLength({ capacity: 2 ** 31, kind: 'spsc' }), { code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => Channel.byteLength({ capacity: 1.5, kind: 'spsc' }), { code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => Channel.byteLength({ capacity: 64, kind: 'x' }), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => Channel.byteLength({ capacity: 64 }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => Channel.byteLength({ capacity: 64, kind: '__proto__' }), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => Channel.byteLength({ capacity: 64, kind: 'toString' }), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => Channel.byteLength({ capacity: 1024, maxMessageSize: 497, kind: 'spsc' }),
    { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' })
  assert.strictEqual(Channel.byteLength({ capacity: 1024, maxMessageSize: 496, kind: 'spsc' }), 1408)
  assert.throws(() => Channel.byteLength(5), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => new Channel(), { code: 'ERR_ILLEGAL_CONSTRUCTOR' })
  assert.throws(() => Channel.open(`/shmem-test-channel-missing-${process.pid}`), { code: 'ENOENT' })
  assert.throws(() => Channel.attach({}, 0), { code: 'ERR_INVALID_ARG_TYPE' })
})

test('maximum size and one byte over', (t) => {
  const { ch } = create(t, { capacity: 4096, maxMessageSize: 1000, kind: 'spsc' })
  const max = Buffer.alloc(1000, 7)
  assert.strictEqual(ch.send(max), true)
  assert.throws(() => ch.send(Buffer.alloc(1001)), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => ch.send('x'.repeat(1001)), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => ch.send('é'.repeat(501)), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => ch.sendSync(Buffer.alloc(1001)), { code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => ch.reserve(1001), { code: 'ERR_OUT_OF_RANGE' })
  assert.deepStrictEqual(ch.receive(), max)
  assert.strictEqual(ch.receive(), null)
  // receiveInto: a target one byte short is a RangeError and the message stays.
  ch.send(max)
  assert.throws(() => ch.receiveInto(Buffer.alloc(999)), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' })
  const target = Buffer.alloc(1000)
  assert.strictEqual(ch.receiveInto(target), 1000)
  assert.deepStrictEqual(target, max)
  assert.strictEqual(ch.receiveInto(target), null)
  return assert.rejects(ch.sendAsync(Buffer.alloc(1001)), { code: 'ERR_OUT_OF_RANGE' })
})

test('messages straddling the end of the ring arrive whole, many laps over', (t) => {
  const { ch } = create(t, { capacity: 256, kind: 'spsc' })
  let sent = 0
  let received = 0
  const into = new Uint8Array(112)
  for (let round = 0; round < 4000; round++) {
    const n = (round * 13) % 113
    const m = Buffer.alloc(n)
    for (let i = 0; i < n; i++) m[i] = (sent + i) & 255
    if (ch.send(m)) sent++
    if (round % 3 === 0 || sent - received > 2) {
      let r
      while ((r = round % 2 ? ch.receive() : ch.receiveInto(into)) !== null) {
        const bytes = typeof r === 'number' ? into.subarray(0, r) : r
        for (let i = 0; i < bytes.length; i++) assert.strictEqual(bytes[i], (received + i) & 255)
        received++
      }
    }
  }
  while (ch.receive() !== null) received++
  assert.strictEqual(received, sent)
  assert.ok(sent > 2000)
  const s = ch.stats()
  assert.strictEqual(s.bytesSent, s.bytesReceived)
  assert.strictEqual(s.used, 0)
})

test('a full ring refuses sends until a receive frees room', (t) => {
  const { ch } = create(t, { capacity: 256, kind: 'mpsc' })
  let n = 0
  while (ch.send(Buffer.alloc(40))) n++
  assert.ok(n >= 3)
  assert.strictEqual(ch.sendSync(Buffer.alloc(40), { timeout: 10 }), 'timed-out')
  ch.receive()
  assert.strictEqual(ch.sendSync(Buffer.alloc(40), { timeout: 1000 }), 'ok')
  assert.strictEqual(ch.receiveSync({ timeout: 0 }).length, 40)
})

test('zero copy: reserve/commit/abort and peek/release', (t) => {
  const { ch, name } = create(t, { capacity: 4096, kind: 'mpmc' })
  const rx = Channel.open(name)
  t.after(() => rx.close())
  const view = ch.reserve(100)
  assert.ok(Buffer.isBuffer(view))
  assert.strictEqual(view.length, 100)
  assert.strictEqual(view.buffer, ch.segment.arrayBuffer) // a view over the ring, not a copy
  assert.throws(() => ch.reserve(1), { code: 'ERR_INVALID_STATE' })
  assert.throws(() => ch.send('x'), { code: 'ERR_INVALID_STATE' })
  assert.strictEqual(rx.receive(), null) // not committed yet
  view.write('zero copy')
  assert.throws(() => ch.commit(101), { code: 'ERR_OUT_OF_RANGE' })
  ch.commit(9)
  assert.throws(() => ch.commit(), { code: 'ERR_INVALID_STATE' })
  ch.reserve(10)
  ch.abort()
  assert.throws(() => ch.abort(), { code: 'ERR_INVALID_STATE' })
  ch.send('next')
  const peeked = rx.peek()
  assert.strictEqual(peeked.toString(), 'zero copy')
  assert.strictEqual(peeked.buffer, rx.segment.arrayBuffer)
  assert.throws(() => rx.peek(), { code: 'ERR_INVALID_STATE' })
  assert.throws(() => rx.receive(), { code: 'ERR_INVALID_STATE' })
  // On mpmc a peek holds the receive lock: another receiver sees nothing meanwhile.
  assert.strictEqual(ch.receive(), null)
  rx.release()
  assert.throws(() => rx.release(), { code: 'ERR_INVALID_STATE' })
  assert.strictEqual(rx.receive().toString(), 'next')
  assert.strictEqual(rx.peek(), null)
  assert.strictEqual(ch.reserve(4096 / 2 - 16).length, 2032)
  ch.commit(0)
  assert.strictEqual(rx.receive().length, 0)
})

test('argument errors', (t) => {
  const { ch } = create(t)
  assert.throws(() => ch.send(5), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => ch.send(null), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => ch.send([1, 2]), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => ch.receiveInto('x'), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => ch.reserve(-1), { code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => ch.reserve('1'), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => ch.receiveSync({ timeout: -1 }), { code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => ch.receiveSync({ timeout: 'x' }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => ch.sendSync('x', 5), { code: 'ERR_INVALID_ARG_TYPE' })
  return Promise.all([
    assert.rejects(ch.receiveAsync({ signal: {} }), { code: 'ERR_INVALID_ARG_TYPE' }),
    assert.rejects(ch.sendAsync(5), { code: 'ERR_INVALID_ARG_TYPE' })
  ])
})

test('receiveSync waits and times out', (t) => {
  const { ch } = create(t)
  const start = Date.now()
  assert.strictEqual(ch.receiveSync({ timeout: 30 }), null)
  assert.ok(Date.now() - start >= 25)
  ch.send('x')
  assert.strictEqual(ch.receiveSync().toString(), 'x')
})

test('receiveAsync: the loop keeps running while it waits; timeout; order of waiters', async (t) => {
  const { ch } = create(t, { capacity: 4096, kind: 'mpsc' })
  let ticks = 0
  const timer = setInterval(() => { ticks++ }, 2)
  t.after(() => clearInterval(timer))
  const waiting = ch.receiveAsync()
  const second = ch.receiveAsync()
  await new Promise((resolve) => setTimeout(resolve, 40))
  const ticksWhileWaiting = ticks
  assert.ok(ticksWhileWaiting > 0, 'timers fired while receiveAsync waited')
  ch.send('one')
  ch.send('two')
  assert.strictEqual((await waiting).toString(), 'one')
  assert.strictEqual((await second).toString(), 'two')
  assert.strictEqual(await ch.receiveAsync({ timeout: 20 }), null)
  assert.strictEqual(await ch.receiveAsync({ timeout: 0 }), null)
  ch.send('ready')
  assert.strictEqual((await ch.receiveAsync({ timeout: 0 })).toString(), 'ready')
})

test('receiveAsync and sendAsync: AbortSignal, close', async (t) => {
  const { ch } = create(t, { capacity: 256, kind: 'spsc' })
  const ac = new AbortController()
  const p = ch.receiveAsync({ signal: ac.signal })
  setTimeout(() => ac.abort(), 10)
  await assert.rejects(p, { name: 'AbortError', code: 'ABORT_ERR' })
  await assert.rejects(ch.receiveAsync({ signal: AbortSignal.abort() }), { name: 'AbortError' })
  // The channel still works after an abort.
  ch.send('after abort')
  assert.strictEqual((await ch.receiveAsync()).toString(), 'after abort')

  while (ch.send(Buffer.alloc(100)));
  const blocked = ch.sendAsync(Buffer.alloc(100))
  assert.strictEqual(await ch.sendAsync(Buffer.alloc(100), { timeout: 10 }), 'timed-out')
  ch.receive()
  assert.strictEqual(await blocked, 'ok')
  const ac2 = new AbortController()
  const blocked2 = ch.sendAsync(Buffer.alloc(100), { signal: ac2.signal })
  ac2.abort()
  await assert.rejects(blocked2, { name: 'AbortError', code: 'ABORT_ERR' })

  while (ch.send(Buffer.alloc(100)));
  const pendingSend = ch.sendAsync(Buffer.alloc(100))
  const { ch: empty } = create(t)
  const pending = empty.receiveAsync()
  ch.close()
  empty.close()
  await assert.rejects(pendingSend, { code: 'ERR_SHMEM_CLOSED' })
  await assert.rejects(pending, { code: 'ERR_SHMEM_CLOSED' })
  assert.throws(() => ch.send('x'), { code: 'ERR_SHMEM_CLOSED' })
  assert.throws(() => ch.receive(), { code: 'ERR_SHMEM_CLOSED' })
  assert.throws(() => ch.stats(), { code: 'ERR_SHMEM_CLOSED' })
  await assert.rejects(ch.receiveAsync(), { code: 'ERR_SHMEM_CLOSED' })
  ch.close()
})

test('for await...of yields messages and ends at close()', async (t) => {
  const { ch } = create(t)
  setTimeout(() => { ch.send('a'); ch.send('b') }, 5)
  setTimeout(() => ch.send('c'), 20)
  const got = []
  for await (const m of ch) {
    got.push(m.toString())
    if (got.length === 3) setTimeout(() => ch.close(), 5)
  }
  assert.deepStrictEqual(got, ['a', 'b', 'c'])
})

test('init and attach inside another segment and a memfd', (t) => {
  const name = trackPosix(uniqueName('channel'))
  const seg = shmem.create(name, 64 * 1024)
  t.after(() => { seg.close(); shmem.unlink(name) })
  const length = Channel.byteLength({ capacity: 8192, kind: 'spsc' })
  assert.throws(() => Channel.init(seg, 100, length, { capacity: 8192, kind: 'spsc' }), { code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => Channel.init(seg, 4096, length - 1, { capacity: 8192, kind: 'spsc' }), { code: 'ERR_OUT_OF_RANGE' })
  const a = Channel.init(seg, 4096, length, { capacity: 8192, kind: 'spsc' })
  const b = Channel.attach(seg, 4096)
  a.send('inside')
  assert.strictEqual(b.receive().toString(), 'inside')
  assert.throws(() => Channel.attach(seg, 0), { code: 'ERR_SHMEM_BAD_STATE' })
  a.close()
  b.close()
  assert.strictEqual(seg.closed, false) // the segment stays the caller's
  // Closing the segment first makes the channel's calls fail cleanly.
  const c = Channel.attach(seg, 4096)
  seg.close()
  assert.throws(() => c.send('x'), { code: 'ERR_SHMEM_CLOSED' })
  c.close()

  if (process.platform === 'linux') {
    const mem = shmem.memfd(length)
    const m = Channel.init(mem, 0, length, { capacity: 8192, kind: 'mpmc' })
    m.send('memfd')
    assert.strictEqual(Channel.attach(mem, 0).receive().toString(), 'memfd')
    m.close()
    mem.close()
  }
})

test('open waits for a channel another process is creating: an empty object, then no magic', { skip: process.platform !== 'linux', timeout: 60000 }, async (t) => {
  const fs = require('fs')
  const { spawn } = require('child_process')
  const nap = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
  const name = trackPosix(uniqueName('channel'))
  const file = `/dev/shm${name}`
  t.after(() => { try { shmem.unlink(name) } catch {} })
  const options = { capacity: 4096, kind: 'spsc' }
  const length = Channel.byteLength(options)
  // The opener runs in a child, with a wait window long enough for any CI machine; this
  // process plays the creator, slowed down: the object exists empty, then sized but all
  // zero, then formatted (magic last) and a message sent.
  fs.writeFileSync(file, '', { mode: 0o600 })
  const root = JSON.stringify(require('path').resolve(__dirname, '..'))
  const child = spawn(process.execPath, ['-e', `
    const shmem = require(${root})
    console.log('opening')
    const began = performance.now()
    const ch = shmem.Channel.open(${JSON.stringify(name)})
    console.log('waited ' + Math.round(performance.now() - began))
    const m = ch.receiveSync({ timeout: 20000 })
    console.log(m === null ? 'nothing' : 'got ' + m.toString())
    ch.close()`], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SHMEM_CHANNEL_OPEN_WAIT_MS: '20000' }
  })
  let out = ''
  child.stdout.on('data', (d) => { out += d })
  let code = null
  const exited = new Promise((resolve) => child.on('exit', (c) => { code = c; resolve(c) }))
  while (!out.includes('opening') && code === null) await nap(5)
  await nap(30) // the child is in its open() now, looking at an empty object
  fs.truncateSync(file, length)
  await nap(30) // ... now at a header of zeros
  const seg = shmem.open(name)
  const ch = Channel.init(seg, 0, length, options)
  ch.send('made')
  assert.strictEqual(await exited, 0)
  assert.match(out, /got made/)
  // It was inside open() through both slowed steps: it waited, and did not fail.
  assert.ok(Number(/waited (\d+)/.exec(out)[1]) >= 50, out)
  ch.close()
  seg.close()

  // A name that stays empty, or stays all zero, holds no channel: ERR_SHMEM_BAD_STATE once the
  // wait (100 ms by default) is over, and not before.
  const other = trackPosix(uniqueName('channel'))
  t.after(() => { try { shmem.unlink(other) } catch {} })
  fs.writeFileSync(`/dev/shm${other}`, '', { mode: 0o600 })
  let began = performance.now()
  assert.throws(() => Channel.open(other), { code: 'ERR_SHMEM_BAD_STATE', message: /is empty/ })
  assert.ok(performance.now() - began >= 90)
  fs.truncateSync(`/dev/shm${other}`, length)
  began = performance.now()
  assert.throws(() => Channel.open(other), { code: 'ERR_SHMEM_BAD_STATE' })
  assert.ok(performance.now() - began >= 90)
  // Anything else is reported at once: a header with a magic that is not a channel's. Timed
  // in a child whose wait window is 20 s, so that a loaded machine cannot blur "at once".
  fs.writeFileSync(`/dev/shm${other}`, Buffer.alloc(length, 1))
  const r = await runSnippet(`
    const began = performance.now()
    assert.throws(() => shmem.Channel.open(process.argv[2]), { code: 'ERR_SHMEM_BAD_STATE' })
    console.log(Math.round(performance.now() - began))
  `, { args: [other], env: { SHMEM_CHANNEL_OPEN_WAIT_MS: '20000' } })
  assert.strictEqual(r.code, 0, r.stderr)
  assert.ok(Number(r.stdout.trim()) < 10000, r.stdout)
})

test('a channel of another format version is refused with a message that says so', (t) => {
  const { ch, name } = create(t)
  const seg = shmem.open(name)
  t.after(() => seg.close())
  const header = seg.view(Buffer, 0, 8)
  const words = new Uint32Array(header.buffer, header.byteOffset, 2)
  assert.strictEqual(words[1], 2)
  words[1] = 1
  assert.throws(() => Channel.open(name), { code: 'ERR_SHMEM_BAD_STATE', message: /format version 1; this build of shmem reads version 2/ })
  assert.throws(() => Channel.attach(seg, 0), { code: 'ERR_SHMEM_BAD_STATE', message: /format version 1/ })
  words[1] = 2
  Channel.open(name).close()
  ch.send('still fine')
})

test('a Channel nobody closes or references is collected, and its finalizer lets go of it', async () => {
  // In a child with --expose-gc: channels of each kind, attached and dropped without close()
  // (one with a receiveAsync that ran through its waiter thread), must all be collected, and
  // the mappings of created-and-dropped ones must go.
  const r = await runSnippet(`
    const { Channel } = shmem
    const fs = require('fs')
    const seg = shmem.memfd(Channel.byteLength({ capacity: 4096, kind: 'mpsc' }))
    // (Each in a function of its own: a suspended async function keeps its dead locals.)
    const refs = []
    ;(() => {
      for (const kind of ['spsc', 'mpsc', 'mpmc']) {
        refs.push(new WeakRef(Channel.init(seg, 0, seg.size, { capacity: 4096, kind })))
        for (let i = 0; i < 10; i++) refs.push(new WeakRef(Channel.attach(seg, 0)))
      }
    })()
    await (async () => {
      const waited = Channel.attach(seg, 0)
      refs.push(new WeakRef(waited))
      // Through the waiter thread: null at 20 ms.
      assert.strictEqual(await waited.receiveAsync({ timeout: 20 }), null)
    })()
    const maps = () => fs.readFileSync('/proc/self/maps', 'utf8').split(String.fromCharCode(10))
      .filter((l) => l.includes(process.argv[2])).length
    ;(() => {
      for (let i = 0; i < 20; i++) {
        const name = process.argv[2] + '-' + i
        Channel.create(name, { capacity: 4096, kind: 'spsc' })
        shmem.unlink(name)
      }
    })()
    // deref() keeps a live target until the end of the job: collect in a job of its own.
    const tick = () => new Promise((resolve) => setTimeout(resolve, 10))
    for (let i = 0; i < 20; i++) {
      await tick()
      globalThis.gc()
      await tick()
      if (!refs.some((w) => w.deref() !== undefined) && maps() === 0) break
    }
    console.log(refs.filter((w) => w.deref() !== undefined).length + ' ' + maps())
  `, { args: [uniqueName('collected')], nodeArgs: ['--expose-gc'], timeout: 60000 })
  assert.strictEqual(r.code, 0, r.stderr)
  assert.strictEqual(r.stdout.trim(), '0 0', 'channels left alive, mappings left')
})

test('garbage written into the header and the records: ERR_SHMEM_BAD_STATE, no crash', async () => {
  for (const kind of ['spsc', 'mpsc', 'mpmc']) {
    const name = trackPosix(uniqueName('channel-garbage'))
    const r = await runNode(fixture('channel-garbage.js'), [name, kind], { timeout: 60000 })
    try { shmem.unlink(name) } catch {}
    assert.strictEqual(r.code, 0, r.stderr)
    const counts = JSON.parse(r.stdout)
    assert.ok(counts.badState > 100, r.stdout)
    assert.ok(counts.ok > 100, r.stdout)
    assert.deepStrictEqual(counts.other, {})
  }
})

test('a worker ended while its receiveAsync waits: the waiter thread stops, no crash', async () => {
  const name = trackPosix(uniqueName('channel-worker'))
  const root = JSON.stringify(require('path').resolve(__dirname, '..'))
  trackPosix(name + '-full')
  const r = await runSnippet(`
    const { Worker } = require('worker_threads')
    const { once } = require('events')
    const w = new Worker(\`
      const shmem = require(${root.replace(/"/g, '\\"')})
      const { workerData, parentPort } = require('worker_threads')
      const empty = shmem.Channel.create(workerData.name, { capacity: 4096, kind: 'spsc' })
      empty.receiveAsync().catch(() => {})
      const full = shmem.Channel.create(workerData.name + '-full', { capacity: 4096, kind: 'spsc' })
      while (full.send('fill'));
      full.sendAsync('more').catch(() => {})
      parentPort.postMessage('waiting')\`, { eval: true, workerData: { name: ${JSON.stringify(name)} } })
    assert.strictEqual((await once(w, 'message'))[0], 'waiting')
    await w.terminate()
    // The channels the worker left behind still work from here.
    const ch = shmem.Channel.open(${JSON.stringify(name + '-full')})
    assert.strictEqual(ch.receive().toString(), 'fill')
    ch.close()
    const empty = shmem.Channel.open(${JSON.stringify(name)})
    assert.strictEqual(empty.receive(), null)
    empty.close()
    console.log('ok')`, { timeout: 30000 })
  assert.strictEqual(r.code, 0, r.stderr)
  assert.strictEqual(r.stdout.trim(), 'ok')
})

test('the segment closed under a pending receiveAsync: it rejects with ERR_SHMEM_CLOSED', async (t) => {
  const name = trackPosix(uniqueName('channel'))
  const options = { capacity: 4096, kind: 'spsc' }
  const length = Channel.byteLength(options)
  const seg = shmem.create(name, length)
  const seg2 = shmem.open(name)
  t.after(() => { seg.close(); seg2.close(); shmem.unlink(name) })
  const a = Channel.init(seg, 0, length, options)
  const b = Channel.attach(seg2, 0)
  const pending = a.receiveAsync()
  seg.close()
  b.send('wakes the waiter')
  await assert.rejects(pending, { code: 'ERR_SHMEM_CLOSED' })
  assert.strictEqual(b.receive().toString(), 'wakes the waiter') // still in the ring
  a.close()
  b.close()
})
