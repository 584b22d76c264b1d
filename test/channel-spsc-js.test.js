'use strict'
// The spsc JavaScript path (lib/spsc.js): order and content across every mix of the JS and
// the native calls on one ring, sizes at the limits, short targets, the u64 counters, garbage
// (in a child process), a segment closed under the channel, resizable buffers, sleeping peers
// in other processes woken from JS, and a long run of sequence numbers.
//
// To tell which path a call took, the native functions are counted: lib/binding is loaded and
// wrapped here before lib/channel.js takes its references to them. After a handle's first send
// (receive), a send of a Buffer or a string (a receive into the pool) must not enter C at all.

const binding = require('../lib/binding')
const calls = {}
for (const name of ['channelSend', 'channelReserve', 'channelCommit', 'channelAbort',
  'channelReceiveInto', 'channelPeek', 'channelRelease', 'channelWake', 'channelWaitSync',
  'channelSendWait', 'channelReceiveWait']) {
  const fn = binding[name]
  calls[name] = 0
  binding[name] = function (...args) {
    calls[name]++
    return fn.apply(this, args)
  }
}

const test = require('node:test')
const assert = require('assert')
const { spawn } = require('child_process')
const { shmem, uniqueName, trackPosix, runNode, fixture } = require('./helpers')
const { message } = require('./fixtures/channel-spsc-js')
const { Channel } = shmem

const FIXTURE = fixture('channel-spsc-js.js')

// Header words (Int32Array indices), docs/channel-format.md.
const W = {
  tail: 64 / 4,
  messagesSent: 72 / 4,
  bytesSent: 80 / 4,
  head: 128 / 4,
  messagesReceived: 136 / 4,
  bytesReceived: 144 / 4,
  dataSeq: 192 / 4,
  dataWaiters: 196 / 4,
  spaceSeq: 256 / 4,
  spaceWaiters: 260 / 4
}

const OUT_OF_RANGE = { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }
const CLOSED = { name: 'Error', code: 'ERR_SHMEM_CLOSED' }
const INVALID_STATE = { code: 'ERR_INVALID_STATE' }

function snapshot () {
  return { ...calls }
}

function delta (before) {
  const d = {}
  for (const k of Object.keys(calls)) d[k] = calls[k] - before[k]
  return d
}

// A sender (Channel.create) and a receiver (Channel.open) on one new spsc ring, closed and
// unlinked after the test whatever happens; `words` is a raw view of the channel's header.
function pair (t, options = { capacity: 4096, kind: 'spsc' }) {
  const name = trackPosix(uniqueName('spscjs'))
  const tx = Channel.create(name, options)
  let rx
  try {
    rx = Channel.open(name)
  } catch (err) {
    tx.close()
    shmem.unlink(name)
    throw err
  }
  t.after(() => {
    rx.close()
    tx.close()
    try { shmem.unlink(name) } catch {}
  })
  const words = new Int32Array(tx.segment.arrayBuffer, 0, tx.segment.size >>> 2)
  return { tx, rx, name, words }
}

// One handle on a new ring (the other side lives in a child process).
function single (t, options) {
  const name = trackPosix(uniqueName('spscjs'))
  const ch = Channel.create(name, options)
  t.after(() => {
    ch.close()
    try { shmem.unlink(name) } catch {}
  })
  const words = new Int32Array(ch.segment.arrayBuffer, 0, ch.segment.size >>> 2)
  return { ch, name, words }
}

// Both handles past their first (native) send and receive.
function warm (tx, rx) {
  assert.strictEqual(tx.send(Buffer.from('warm')), true)
  assert.strictEqual(rx.receive().toString(), 'warm')
}

// A small deterministic generator.
function prng (seed) {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

function pattern (seq, len) {
  const b = Buffer.alloc(len)
  for (let i = 0; i < len; i++) b[i] = (seq * 131 + i * 7 + (seq >>> 8)) & 255
  if (len >= 4) b.writeUInt32LE(seq, 0)
  return b
}

// A string of at most maxBytes UTF-8 bytes: ASCII, 2-, 3- and 4-byte characters and, now and
// then, a lone surrogate (sent as U+FFFD, 3 bytes).
const PIECES = ['a', 'Z', '0', 'é', 'ß', '€', '日', '😀', '𝄞', '\ud800', ' ']
function stringFor (seq, maxBytes, rand) {
  let s = `${seq}:`
  if (Buffer.byteLength(s) > maxBytes) return ''
  for (;;) {
    const piece = PIECES[Math.floor(rand() * PIECES.length)]
    if (Buffer.byteLength(s + piece) > maxBytes) return s
    s += piece
  }
}

test('1. mixed JS and native paths on one ring: every message byte-exact, in order, many laps', (t) => {
  const { tx, rx, words } = pair(t, { capacity: 4096, kind: 'spsc' })
  const cap = tx.capacity
  const max = tx.maxMessageSize
  const N = 20000
  const rand = prng(20240601)
  const before = snapshot()
  const sendModes = ['buffer', 'buffer', 'fresh', 'string', 'float64', 'dataview', 'arraybuffer',
    'reserve', 'sendSync', 'sendSyncString']
  const recvModes = ['receive', 'receive', 'intoSame', 'intoSame', 'intoAlt', 'intoUnaligned',
    'peek', 'receiveSync']
  const sendAttempts = Object.fromEntries(sendModes.map((m) => [m, 0]))
  sendAttempts.abort = 0
  const recvAttempts = Object.fromEntries(recvModes.map((m) => [m, 0]))
  const persistent = new Map() // length -> one Buffer reused for every 'buffer' send of it
  const intoSame = Buffer.alloc(512)
  const intoAlt = [Buffer.alloc(512), new Uint8Array(512)]
  const unalignedBase = Buffer.alloc(520)
  const intoUnaligned = unalignedBase.subarray(1) // byteOffset 1: never adopted
  let alt = 0
  const expected = [] // the bytes of message seq
  const sentBy = []
  let received = 0
  let bytes = 0
  let skipsSeen = 0
  const kept = [] // [Buffer from receive(), seq]: must not change later (pool slices)

  function attemptSend (seq, mode, len) {
    sendAttempts[mode]++
    let data
    let sent
    switch (mode) {
      case 'buffer': {
        let b = persistent.get(len)
        if (b === undefined) persistent.set(len, (b = Buffer.alloc(len)))
        pattern(seq, len).copy(b)
        expected[seq] = Buffer.from(b)
        return tx.send(b)
      }
      case 'fresh':
        expected[seq] = pattern(seq, len)
        return tx.send(Buffer.from(expected[seq]))
      case 'string':
      case 'sendSyncString': {
        const s = stringFor(seq, len, rand)
        expected[seq] = Buffer.from(s)
        return mode === 'string' ? tx.send(s) : tx.sendSync(s, { timeout: 0 }) === 'ok'
      }
      case 'float64': {
        expected[seq] = pattern(seq, len & ~7)
        data = new Float64Array(Uint8Array.from(expected[seq]).buffer)
        return tx.send(data)
      }
      case 'dataview': {
        expected[seq] = pattern(seq, len)
        const ab = new ArrayBuffer(len + 5)
        new Uint8Array(ab, 3, len).set(expected[seq])
        return tx.send(new DataView(ab, 3, len))
      }
      case 'arraybuffer':
        expected[seq] = pattern(seq, len)
        return tx.send(Uint8Array.from(expected[seq]).buffer)
      case 'reserve': {
        expected[seq] = pattern(seq, len)
        if (rand() < 0.2) {
          sendAttempts.abort++
          const gone = tx.reserve(len)
          if (gone !== null) {
            gone.fill(0xee)
            tx.abort()
          }
        }
        const view = tx.reserve(Math.min(max, len + Math.floor(rand() * 40)))
        if (view === null) return false
        view.fill(0xdd)
        view.set(expected[seq])
        tx.commit(len)
        return true
      }
      case 'sendSync':
        expected[seq] = pattern(seq, len)
        sent = tx.sendSync(Buffer.from(expected[seq]), { timeout: 0 })
        return sent === 'ok'
    }
    throw new Error(mode)
  }

  // One receive by a random mode: the message's bytes (a copy where the call reuses memory),
  // or null when there was none.
  function receiveOne () {
    const mode = recvModes[Math.floor(rand() * recvModes.length)]
    recvAttempts[mode]++
    const headBefore = words[W.head]
    let got = null
    let target = null
    switch (mode) {
      case 'receive':
        got = rx.receive()
        break
      case 'receiveSync':
        got = rx.receiveSync({ timeout: 0 })
        break
      case 'intoSame':
        target = intoSame
        break
      case 'intoAlt':
        target = intoAlt[alt++ & 1]
        break
      case 'intoUnaligned':
        target = intoUnaligned
        break
      case 'peek': {
        const view = rx.peek()
        if (view !== null) {
          got = Buffer.from(view)
          rx.release()
        }
        break
      }
    }
    if (target !== null) {
      const n = rx.receiveInto(target)
      if (n !== null) {
        assert.ok(n <= target.length)
        got = Buffer.from(target.subarray(0, n))
      }
    }
    if (got === null) return null
    // A head that moved by more than the record's span went past a SKIP record.
    const span = (16 + got.length + 15) & ~15
    if (((words[W.head] - headBefore) >>> 0) > span) skipsSeen++
    const seq = received
    const want = expected[seq]
    if (want === undefined || !got.equals(want)) {
      assert.fail(`message ${seq} (sent by ${sentBy[seq]}, received by ${mode}): expected ` +
        `${want && want.length} bytes ${want && want.subarray(0, 12).toString('hex')}..., got ` +
        `${got.length} bytes ${got.subarray(0, 12).toString('hex')}...`)
    }
    if ((mode === 'receive' || mode === 'receiveSync') && seq % 97 === 0) kept.push([got, seq])
    bytes += got.length
    received++
    return got
  }

  let lastLen = 0
  for (let seq = 0; seq < N; seq++) {
    const len = rand() < 0.3 ? lastLen : Math.floor(rand() * 301)
    lastLen = len
    // The first message is a Buffer: its send is the native one that enables the JS path.
    const mode = seq === 0 ? 'buffer' : sendModes[Math.floor(rand() * sendModes.length)]
    sentBy[seq] = mode
    while (!attemptSend(seq, mode, len)) {
      assert.ok(receiveOne() !== null || receiveOne() !== null || receiveOne() !== null,
        `the ring had no room for message ${seq} yet nothing to receive`)
    }
    while (rand() < 0.45) receiveOne()
  }
  for (let i = 0; received < N && i < 10 * N; i++) receiveOne()
  assert.strictEqual(received, N)
  assert.strictEqual(rx.receive(), null)
  for (const [buf, seq] of kept) {
    assert.ok(buf.equals(expected[seq]), `message ${seq} changed later`)
  }

  const laps = Math.floor(words[W.tail] / cap)
  assert.ok(laps > 300, `the ring wrapped ${laps} times`)
  assert.ok(skipsSeen > 100, `SKIP records crossed: ${skipsSeen}`)
  const s = rx.stats()
  assert.strictEqual(s.messagesSent, N)
  assert.strictEqual(s.messagesReceived, N)
  assert.strictEqual(s.bytesSent, s.bytesReceived)
  assert.strictEqual(s.bytesReceived, bytes)
  assert.strictEqual(s.used, 0)

  // The paths taken: Buffers and strings never entered C after the first send; receive() and
  // receiveSync() never after the first receive; the adopted target mostly not.
  const d = delta(before)
  assert.strictEqual(d.channelSend,
    1 + sendAttempts.float64 + sendAttempts.dataview + sendAttempts.arraybuffer, JSON.stringify(d))
  assert.strictEqual(d.channelReserve, sendAttempts.reserve + sendAttempts.abort)
  assert.strictEqual(d.channelPeek, recvAttempts.peek)
  const intoNative = recvAttempts.intoAlt + recvAttempts.intoUnaligned
  assert.ok(d.channelReceiveInto <= 1 + intoNative + Math.ceil(recvAttempts.intoSame / 2),
    `native receiveInto calls ${d.channelReceiveInto}, attempts ${JSON.stringify(recvAttempts)}`)
  t.diagnostic(`sends ${JSON.stringify(sendAttempts)} receives ${JSON.stringify(recvAttempts)} ` +
    `native ${JSON.stringify(d)} laps ${laps} skips ${skipsSeen}`)
})

test('1b. an open reserve() or peek() turns the JS path off until commit/abort or release', (t) => {
  const { tx, rx } = pair(t)
  warm(tx, rx)
  const target = new Uint8Array(64)
  const view = tx.reserve(10)
  assert.throws(() => tx.send(Buffer.from('x')), INVALID_STATE)
  assert.throws(() => tx.send('x'), INVALID_STATE)
  assert.throws(() => tx.sendSync(Buffer.from('x'), { timeout: 0 }), INVALID_STATE)
  assert.strictEqual(rx.receive(), null, 'nothing is published before commit()')
  view.write('0123456789')
  tx.commit()
  let before = snapshot()
  assert.strictEqual(tx.send(Buffer.from('after commit')), true)
  assert.strictEqual(delta(before).channelSend, 0, 'JS again after commit()')
  tx.reserve(20).fill(0x41)
  tx.abort()
  before = snapshot()
  assert.strictEqual(tx.send('after abort'), true)
  assert.strictEqual(delta(before).channelReserve, 0, 'JS again after abort()')

  assert.strictEqual(rx.peek().toString(), '0123456789')
  assert.throws(() => rx.receive(), INVALID_STATE)
  assert.throws(() => rx.receiveInto(target), INVALID_STATE)
  assert.throws(() => rx.receiveSync({ timeout: 0 }), INVALID_STATE)
  rx.release()
  before = snapshot()
  assert.strictEqual(rx.receive().toString(), 'after commit')
  assert.strictEqual(rx.receive().toString(), 'after abort')
  assert.strictEqual(rx.receive(), null)
  assert.strictEqual(delta(before).channelReceiveInto, 0, 'JS again after release()')
  assert.strictEqual(rx.stats().messagesReceived, 4)
})

test('2. messages of exactly maxMessageSize and one byte over, on the JS path', (t) => {
  for (const options of [
    { capacity: 4096, kind: 'spsc' },
    { capacity: 4096, maxMessageSize: 1000, kind: 'spsc' },
    { capacity: 64, kind: 'spsc' },
    { capacity: 256, maxMessageSize: 13, kind: 'spsc' },
    { capacity: 65536, kind: 'spsc' }
  ]) {
    const { tx, rx, words } = pair(t, options)
    const max = tx.maxMessageSize
    const what = JSON.stringify(options)
    warm(tx, rx)
    const target = Buffer.alloc(max)
    const before = snapshot()
    for (let k = 0; k < 6; k++) {
      // Move the tail to another place, so that some of these need the padding of a wrap.
      assert.strictEqual(tx.send(pattern(k, k * 5 % (max + 1))), true)
      assert.deepStrictEqual(rx.receive(), pattern(k, k * 5 % (max + 1)))
      const m = pattern(100 + k, max)
      assert.strictEqual(tx.send(m), true, `a ${max}-byte message (${what})`)
      const got = k % 2
        ? rx.receive()
        : (rx.receiveInto(target) === max ? Buffer.from(target) : null)
      assert.ok(got !== null && got.equals(m), `the ${max}-byte message arrives whole (${what})`)
      const text = 'é'.repeat(max >> 1) + (max & 1 ? 'x' : '')
      assert.strictEqual(Buffer.byteLength(text), max)
      assert.strictEqual(tx.send(text), true)
      assert.strictEqual(rx.receive().toString(), text)
    }
    assert.strictEqual(delta(before).channelSend, 0, `the sends took the JS path (${what})`)

    const sentBefore = tx.stats().messagesSent
    const tail = words[W.tail]
    assert.throws(() => tx.send(Buffer.alloc(max + 1)), OUT_OF_RANGE)
    assert.throws(() => tx.send(new Uint8Array(max + 1)), OUT_OF_RANGE)
    assert.throws(() => tx.send('x'.repeat(max + 1)), OUT_OF_RANGE)
    assert.throws(() => tx.send('x'.repeat(max - 1) + 'é'), OUT_OF_RANGE) // max + 1 bytes
    assert.throws(() => tx.sendSync(Buffer.alloc(max + 1), { timeout: 0 }), OUT_OF_RANGE)
    assert.throws(() => tx.sendSync('y'.repeat(max + 1)), OUT_OF_RANGE)
    assert.throws(() => tx.reserve(max + 1), OUT_OF_RANGE)
    assert.strictEqual(words[W.tail], tail, 'nothing was published')
    assert.strictEqual(tx.stats().messagesSent, sentBefore)
    assert.strictEqual(rx.receive(), null)
    // And the path still works.
    assert.strictEqual(tx.send(pattern(7, max)), true)
    assert.deepStrictEqual(rx.receive(), pattern(7, max))
  }
})

test('3. receiveInto with a target shorter than the message: RangeError, the message stays', (t) => {
  const { tx, rx, words } = pair(t)
  warm(tx, rx)

  // Not adopted: a new target each time.
  for (const [len, short] of [[100, 99], [1, 0], [257, 256], [300, 4]]) {
    const m = pattern(len, len)
    tx.send(m)
    const head = words[W.head]
    assert.throws(() => rx.receiveInto(Buffer.alloc(short)), (err) => {
      assert.strictEqual(err.name, 'RangeError')
      assert.strictEqual(err.code, 'ERR_OUT_OF_RANGE')
      assert.match(err.message, new RegExp(`>= ${len}\\b`))
      assert.match(err.message, new RegExp(`Received ${short}$`))
      return true
    })
    assert.throws(() => rx.receiveInto(Buffer.alloc(short + 1).subarray(1)), OUT_OF_RANGE)
    assert.strictEqual(words[W.head], head, 'nothing consumed')
    assert.deepStrictEqual(rx.receive(), m)
  }

  // Adopted: the same target twice, then a message one byte too long for it.
  const target = new Uint8Array(64)
  for (let i = 0; i < 3; i++) {
    tx.send(pattern(i, 64))
    assert.strictEqual(rx.receiveInto(target), 64)
    assert.deepStrictEqual(Buffer.from(target), pattern(i, 64))
  }
  let before = snapshot()
  tx.send(pattern(3, 60))
  assert.strictEqual(rx.receiveInto(target), 60)
  assert.strictEqual(delta(before).channelReceiveInto, 0, 'the adopted target is copied in JS')
  for (const len of [65, 200, 256]) {
    const m = pattern(len, len)
    tx.send(m)
    assert.throws(() => rx.receiveInto(target), OUT_OF_RANGE)
    assert.throws(() => rx.receiveInto(target), OUT_OF_RANGE) // and again: it is still there
    assert.deepStrictEqual(rx.receive(), m)
  }
  before = snapshot()
  tx.send(pattern(9, 33))
  assert.strictEqual(rx.receiveInto(target), 33)
  assert.deepStrictEqual(Buffer.from(target.subarray(0, 33)), pattern(9, 33))
  assert.strictEqual(delta(before).channelReceiveInto, 0, 'still adopted after the errors')
  assert.strictEqual(rx.receive(), null)

  // The handle's very first receive (native) with a short target.
  const second = pair(t)
  second.tx.send(pattern(1, 100))
  assert.throws(() => second.rx.receiveInto(Buffer.alloc(10)), OUT_OF_RANGE)
  assert.deepStrictEqual(second.rx.receive(), pattern(1, 100))
  assert.strictEqual(rx.stats().messagesReceived, 1 + 4 + 3 + 1 + 3 + 1)
})

test('4. stats() after JS sends and receives, and the u64 carry past 2^32', (t) => {
  const { tx, rx } = pair(t)
  warm(tx, rx)
  const target = new Uint8Array(128)
  let sentBytes = 4
  for (let i = 0; i < 10; i++) {
    tx.send(i % 3 === 2 ? 'x'.repeat(i * 11) : pattern(i, i * 11))
    sentBytes += i * 11
  }
  let receivedBytes = 4
  for (let i = 0; i < 7; i++) {
    const n = i % 2 ? rx.receiveInto(target) : rx.receive().length
    assert.strictEqual(n, i * 11)
    receivedBytes += n
  }
  let s = rx.stats()
  assert.strictEqual(s.messagesSent, 11)
  assert.strictEqual(s.bytesSent, sentBytes)
  assert.strictEqual(s.messagesReceived, 8)
  assert.strictEqual(s.bytesReceived, receivedBytes)
  assert.strictEqual(s.senders, 1)
  assert.strictEqual(s.receivers, 1)
  // The three left (77, 88 and 99 bytes) take their records' spans.
  assert.strictEqual(s.used, [77, 88, 99].reduce((sum, n) => sum + ((16 + n + 15) & ~15), 0))
  for (const n of [77, 88, 99]) assert.strictEqual(rx.receive().length, n)
  s = rx.stats()
  assert.strictEqual(s.messagesReceived, 11)
  assert.strictEqual(s.bytesReceived, s.bytesSent)
  assert.strictEqual(s.used, 0)
})

test('4b. the u64 counters carry into their high words (Channel.init on shmem.create)', (t) => {
  const name = trackPosix(uniqueName('spscjs-u64'))
  const options = { capacity: 4096, kind: 'spsc' }
  const length = Channel.byteLength(options)
  const seg = shmem.create(name, length)
  let tx, rx
  t.after(() => {
    if (rx) rx.close()
    if (tx) tx.close()
    seg.close()
    try { shmem.unlink(name) } catch {}
  })
  tx = Channel.init(seg, 0, length, options)
  rx = Channel.attach(seg, 0)
  warm(tx, rx)
  const raw = new Int32Array(seg.arrayBuffer, 0, 96)
  const u32 = new Uint32Array(seg.arrayBuffer, 0, 96)
  const u64 = (i) => u32[i + 1] * 2 ** 32 + u32[i]
  const set64 = (i, hi, lo) => { raw[i] = lo | 0; raw[i + 1] = hi | 0 }

  set64(W.messagesSent, 0, 0xffffffff)
  set64(W.bytesSent, 5, 0xffffff00)
  set64(W.messagesReceived, 7, 0xfffffffe)
  set64(W.bytesReceived, 0x1fffff, 0xffffffd0) // 2^53 - 48
  const before = snapshot()
  const target = new Uint8Array(128)
  for (let i = 0; i < 3; i++) assert.strictEqual(tx.send(pattern(i, 100)), true)
  assert.strictEqual(delta(before).channelSend, 0, 'JS sends')
  let s = rx.stats()
  assert.strictEqual(s.messagesSent, 2 ** 32 + 2)
  assert.strictEqual(s.bytesSent, 6 * 2 ** 32 + 44)
  assert.deepStrictEqual([u32[W.messagesSent], u32[W.messagesSent + 1]], [2, 1])
  assert.deepStrictEqual([u32[W.bytesSent], u32[W.bytesSent + 1]], [44, 6])

  assert.strictEqual(rx.receive().length, 100)
  assert.strictEqual(rx.receiveInto(target), 100)
  assert.strictEqual(rx.receiveInto(target), 100) // adopted: JS
  assert.strictEqual(delta(before).channelReceiveInto <= 1, true)
  s = rx.stats()
  assert.strictEqual(s.messagesReceived, 8 * 2 ** 32 + 1)
  assert.strictEqual(s.bytesReceived, 2 ** 53 + 252)
  assert.strictEqual(typeof s.bytesReceived, 'number')
  assert.strictEqual(u64(W.bytesReceived), 2 ** 53 + 252)

  // A native send goes on from the same u64 (C adds to the whole word).
  tx.send(new Float64Array(2))
  s = tx.stats()
  assert.strictEqual(s.messagesSent, 2 ** 32 + 3)
  assert.strictEqual(s.bytesSent, 6 * 2 ** 32 + 60)
  assert.strictEqual(rx.receive().length, 16)

  // The high word's sign bit: 0x7fffffff + carry is 0x80000000, not a negative number gone wrong.
  set64(W.bytesSent, 0x7fffffff, 0xffffffff)
  set64(W.messagesSent, 0xffffffff, 0xffffffff)
  tx.send(Buffer.from('z'))
  assert.deepStrictEqual([u32[W.bytesSent], u32[W.bytesSent + 1]], [0, 0x80000000])
  assert.deepStrictEqual([u32[W.messagesSent], u32[W.messagesSent + 1]], [0, 0]) // u64 wraps
  assert.strictEqual(rx.stats().bytesSent, 2 ** 63)
  assert.strictEqual(rx.receive().toString(), 'z')
})

test('5. garbage in the header and the records on the JS path: ERR_SHMEM_BAD_STATE, no crash', async (t) => {
  const base = uniqueName('spscjs-garbage')
  const r = await runNode(FIXTURE, ['garbage', base], { timeout: 60000 })
  for (let i = 1; i <= 40; i++) {
    try { shmem.unlink(`${base}-${i}`) } catch {}
  }
  assert.strictEqual(r.signal, null, `the child died of ${r.signal}\n${r.stderr}`)
  assert.strictEqual(r.code, 0, r.stderr)
  const results = JSON.parse(r.stdout)
  assert.ok(results.length >= 30, r.stdout)
  for (const { title, ok, detail } of results) {
    await t.test(title, () => assert.ok(ok, detail))
  }
})

test('6. the Segment under a Channel.init channel closed: ERR_SHMEM_CLOSED, close() works', (t) => {
  const name = trackPosix(uniqueName('spscjs-closed'))
  const options = { capacity: 4096, kind: 'spsc' }
  const length = Channel.byteLength(options)
  const seg = shmem.create(name, 2 * length)
  const seg2 = shmem.open(name) // the peers' own mapping, which stays open
  const handles = []
  t.after(() => {
    for (const h of handles) h.close()
    seg.close()
    seg2.close()
    try { shmem.unlink(name) } catch {}
  })
  // Ring 0: a sends (JS), b receives. Ring 1: c sends, d receives (JS). a and d live in seg.
  const a = Channel.init(seg, 0, length, options)
  const d = Channel.init(seg, length, length, options)
  const b = Channel.attach(seg2, 0)
  const c = Channel.attach(seg2, length)
  handles.push(a, b, c, d)
  const target = new Uint8Array(64)
  for (let i = 0; i < 4; i++) assert.strictEqual(a.send(pattern(i, 20)), true)
  a.send('a string')
  for (let i = 0; i < 4; i++) assert.deepStrictEqual(b.receive(), pattern(i, 20))
  for (let i = 0; i < 6; i++) c.send(pattern(i, 24))
  assert.deepStrictEqual(d.receive(), pattern(0, 24))
  assert.deepStrictEqual(d.receive(), pattern(1, 24))
  assert.strictEqual(d.receiveInto(target), 24)
  assert.strictEqual(d.receiveInto(target), 24) // adopted
  const sentBefore = b.stats().messagesSent
  const receivedBefore = c.stats().messagesReceived

  seg.close()
  const same = pattern(9, 20)
  assert.throws(() => a.send(same), CLOSED, 'send(Buffer)')
  assert.throws(() => a.send(same), CLOSED, 'send(Buffer) again')
  assert.throws(() => a.send('text'), CLOSED, 'send(string)')
  assert.throws(() => a.send(''), CLOSED, "send('')")
  assert.throws(() => a.send(Buffer.alloc(0)), CLOSED, 'send(empty Buffer)')
  assert.throws(() => a.send(new Float64Array(2)), CLOSED, 'send(Float64Array)')
  assert.throws(() => a.sendSync(same, { timeout: 0 }), CLOSED, 'sendSync')
  assert.throws(() => a.sendSync('text', { timeout: 10 }), CLOSED, 'sendSync(string)')
  assert.throws(() => a.reserve(4), CLOSED, 'reserve')
  assert.throws(() => d.receive(), CLOSED, 'receive()')
  assert.throws(() => d.receiveInto(target), CLOSED, 'receiveInto(adopted)')
  assert.throws(() => d.receiveInto(Buffer.alloc(64)), CLOSED, 'receiveInto(new)')
  assert.throws(() => d.receiveInto(Buffer.alloc(65).subarray(1)), CLOSED, 'receiveInto(unaligned)')
  assert.throws(() => d.receiveSync({ timeout: 0 }), CLOSED, 'receiveSync')
  assert.throws(() => d.receiveSync({ timeout: 10 }), CLOSED, 'receiveSync(10 ms)')
  assert.throws(() => d.peek(), CLOSED, 'peek')
  assert.throws(() => a.stats(), CLOSED, 'stats')

  // Nothing was published nor consumed meanwhile; the peers still work.
  assert.strictEqual(b.stats().messagesSent, sentBefore)
  assert.strictEqual(b.receive().toString(), 'a string')
  assert.strictEqual(b.receive(), null)
  assert.strictEqual(c.stats().messagesReceived, receivedBefore)
  a.close()
  d.close()
  assert.strictEqual(a.closed, true)
  assert.throws(() => a.send(same), { code: 'ERR_SHMEM_CLOSED', message: /channel is closed/ })
  assert.throws(() => d.receive(), { code: 'ERR_SHMEM_CLOSED', message: /channel is closed/ })
  a.close() // idempotent
  // The messages d left are still there for another receiver.
  const e = Channel.attach(seg2, length)
  handles.push(e)
  for (let i = 4; i < 6; i++) assert.deepStrictEqual(e.receive(), pattern(i, 24))
  assert.strictEqual(e.receive(), null)
})

const noResizable = typeof ArrayBuffer.prototype.resize !== 'function' &&
  'this Node has no resizable ArrayBuffer'

test('7. resizable ArrayBuffers: a shrunk adopted target, a source that changes size',
  { skip: noResizable }, (t) => {
  const { tx, rx } = pair(t)
  warm(tx, rx)

  const rab = new ArrayBuffer(64, { maxByteLength: 256 })
  const target = new Uint8Array(rab) // tracks the buffer's length
  for (let i = 0; i < 3; i++) {
    tx.send(pattern(i, 16))
    assert.strictEqual(rx.receiveInto(target), 16)
    assert.deepStrictEqual(Buffer.from(target.subarray(0, 16)), pattern(i, 16))
  }
  let before = snapshot()
  tx.send(pattern(3, 20))
  assert.strictEqual(rx.receiveInto(target), 20)
  assert.strictEqual(delta(before).channelReceiveInto, 0, 'the target is adopted')

  rab.resize(8)
  assert.strictEqual(target.length, 8)
  tx.send(pattern(4, 16))
  assert.throws(() => rx.receiveInto(target), OUT_OF_RANGE, '16 bytes into 8')
  assert.deepStrictEqual(rx.receive(), pattern(4, 16), 'the message was not lost')
  for (const [seq, len] of [[5, 8], [6, 3], [7, 0]]) {
    tx.send(pattern(seq, len))
    target.fill(0xaa)
    assert.strictEqual(rx.receiveInto(target), len)
    assert.deepStrictEqual(Buffer.from(target.subarray(0, len)), pattern(seq, len))
    assert.ok(target.subarray(len).every((x) => x === 0xaa), 'nothing written past the message')
  }
  rab.resize(64)
  tx.send(pattern(8, 64))
  assert.strictEqual(rx.receiveInto(target), 64)
  assert.deepStrictEqual(Buffer.from(target), pattern(8, 64))
  rab.resize(256)
  tx.send(pattern(9, 200))
  assert.strictEqual(rx.receiveInto(target), 200)
  assert.deepStrictEqual(Buffer.from(target.subarray(0, 200)), pattern(9, 200))

  // A fixed-length view that the shrink puts out of bounds (its length becomes 0).
  const rab2 = new ArrayBuffer(64, { maxByteLength: 128 })
  const fixed = new Uint8Array(rab2, 0, 64)
  for (let i = 0; i < 2; i++) {
    tx.send(pattern(10 + i, 32))
    assert.strictEqual(rx.receiveInto(fixed), 32)
  }
  rab2.resize(16)
  assert.strictEqual(fixed.length, 0)
  tx.send(pattern(12, 16))
  assert.throws(() => rx.receiveInto(fixed), OUT_OF_RANGE)
  assert.deepStrictEqual(rx.receive(), pattern(12, 16))
  rab2.resize(64)
  tx.send(pattern(13, 64))
  assert.strictEqual(rx.receiveInto(fixed), 64)
  assert.deepStrictEqual(Buffer.from(fixed), pattern(13, 64))
  assert.strictEqual(rx.receive(), null)

  // Sources: what is sent is the bytes the view has now, as many as it has now.
  const srab = new ArrayBuffer(64, { maxByteLength: 256 })
  const source = new Uint8Array(srab)
  before = snapshot()
  let seq = 20
  for (const size of [64, 64, 64, 8, 100, 64, 2, 0, 256, 64, 5, 64]) {
    srab.resize(size)
    source.set(pattern(seq, size))
    assert.strictEqual(source.length, size)
    assert.strictEqual(tx.send(source), true)
    const got = rx.receive()
    assert.deepStrictEqual(got, pattern(seq, size), `a ${size}-byte source`)
    seq++
  }
  const frab = new ArrayBuffer(32, { maxByteLength: 64 })
  const fixedSource = new Uint8Array(frab, 0, 32)
  for (let i = 0; i < 2; i++) {
    fixedSource.set(pattern(seq, 32))
    tx.send(fixedSource)
    assert.deepStrictEqual(rx.receive(), pattern(seq++, 32))
  }
  frab.resize(16) // out of bounds: its length reads 0 now, and it is refused, not sent empty
  assert.throws(() => tx.send(fixedSource), { code: 'ERR_INVALID_ARG_VALUE', message: /out of the bounds/ })
  assert.strictEqual(rx.receive(), null)
  frab.resize(64)
  fixedSource.set(pattern(seq, 32))
  tx.send(fixedSource)
  assert.deepStrictEqual(rx.receive(), pattern(seq, 32))
  assert.strictEqual(delta(before).channelSend, 0, 'all of these sends took the JS path')
})

// A child process on a fixture, read line by line (each line JSON).
function startChild (t, args) {
  const child = spawn(process.execPath, [FIXTURE, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  const lines = []
  const waiting = []
  let pending = ''
  let ended = false
  child.stdout.on('data', (d) => {
    pending += d
    let i
    while ((i = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, i)
      pending = pending.slice(i + 1)
      const w = waiting.shift()
      if (w) w.resolve(line)
      else lines.push(line)
    }
  })
  const exited = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      ended = true
      for (const w of waiting.splice(0)) {
        w.reject(new Error(`the child exited (${code}, ${signal}) early: ${stderr}`))
      }
      resolve({ code, signal })
    })
  })
  function next (ms = 20000) {
    return new Promise((resolve, reject) => {
      const parse = (line) => {
        try { resolve(JSON.parse(line)) } catch (err) { reject(new Error(`${line}\n${stderr}`)) }
      }
      if (lines.length > 0) return parse(lines.shift())
      if (ended) return reject(new Error(`the child has exited: ${stderr}`))
      const timer = setTimeout(() => {
        reject(new Error(`no line from the child in ${ms} ms: ${stderr}`))
      }, ms)
      waiting.push({
        resolve: (line) => { clearTimeout(timer); parse(line) },
        reject: (err) => { clearTimeout(timer); reject(err) }
      })
    })
  }
  return { child, next, exited, stderr: () => stderr }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// Waits ms, then until the peer's waiters flag is up (it sleeps in futex), at most 3 s.
async function untilAsleep (words, index, ms) {
  await sleep(ms)
  for (let i = 0; i < 300 && Atomics.load(words, index) === 0; i++) await sleep(10)
  assert.strictEqual(Atomics.load(words, index), 1, 'the peer went to sleep (waiters flag up)')
}

test('8a. a receiver asleep in receiveSync() in another process is woken by a JS send', async (t) => {
  const { ch, name, words } = single(t, { capacity: 4096, kind: 'spsc' })
  const payloads = [pattern(1, 200), 'a string wakes it too: é€😀', pattern(3, 3),
    Buffer.alloc(0)]
  const peer = startChild(t, ['sleep-receiver', name, String(payloads.length)])
  assert.strictEqual(ch.send(Buffer.from('warm-up')), true) // this handle's first send: native
  assert.deepStrictEqual(await peer.next(), { event: 'warm', text: 'warm-up' })
  const latencies = []
  for (let round = 0; round < payloads.length; round++) {
    await untilAsleep(words, W.dataWaiters, 100)
    const seq = Atomics.load(words, W.dataSeq)
    const before = snapshot()
    const t0 = process.hrtime.bigint()
    assert.strictEqual(ch.send(payloads[round]), true)
    const d = delta(before)
    assert.strictEqual(d.channelSend + d.channelReserve, 0, 'the send took the JS path')
    assert.strictEqual(d.channelWake, 1, 'the JS path woke the sleeper')
    const got = await peer.next()
    assert.strictEqual(got.event, 'got')
    assert.strictEqual(got.round, round)
    assert.strictEqual(got.hex, Buffer.from(payloads[round]).toString('hex'))
    const ms = Number(BigInt(got.t) - t0) / 1e6
    latencies.push(ms.toFixed(3))
    assert.ok(ms < 1000, `woken after ${ms} ms`)
    assert.notStrictEqual(Atomics.load(words, W.dataSeq), seq, 'the data sequence word moved')
  }
  const r = await peer.exited
  assert.strictEqual(r.code, 0, peer.stderr())
  t.diagnostic(`send-to-receipt latencies (ms): ${latencies.join(', ')}`)
})

test('8b. a sender asleep in sendSync() on a full ring in another process is woken by a JS receive', async (t) => {
  const SIZE = 48 // a 64-byte record: 16 of them fill the ring exactly
  const { ch, name, words } = single(t, { capacity: 1024, kind: 'spsc' })
  const peer = startChild(t, ['sleep-sender', name, String(SIZE)])
  assert.deepStrictEqual(await peer.next(), { event: 'sent0' })
  assert.deepStrictEqual(ch.receive(), message(0, SIZE)) // this handle's first receive: native
  peer.child.stdin.write('go\n')
  const full = await peer.next()
  assert.deepStrictEqual(full, { event: 'full', next: 17 })
  await untilAsleep(words, W.spaceWaiters, 100)
  const seq = Atomics.load(words, W.spaceSeq)
  const before = snapshot()
  const t0 = process.hrtime.bigint()
  assert.deepStrictEqual(ch.receive(), message(1, SIZE))
  const d = delta(before)
  assert.strictEqual(d.channelReceiveInto + d.channelPeek, 0, 'the receive took the JS path')
  assert.strictEqual(d.channelWake, 1, 'the JS path woke the sleeper')
  const unblocked = await peer.next()
  assert.strictEqual(unblocked.event, 'unblocked')
  assert.strictEqual(unblocked.result, 'ok')
  const ms = Number(BigInt(unblocked.t) - t0) / 1e6
  assert.ok(ms < 1000, `woken after ${ms} ms`)
  assert.notStrictEqual(Atomics.load(words, W.spaceSeq), seq, 'the space sequence word moved')
  for (let i = 2; i <= 17; i++) {
    const m = ch.receiveSync({ timeout: 5000 })
    assert.deepStrictEqual(m, message(i, SIZE), `message ${i}`)
  }
  assert.strictEqual(ch.receive(), null)
  const r = await peer.exited
  assert.strictEqual(r.code, 0, peer.stderr())
  t.diagnostic(`receive-to-unblock latency: ${ms.toFixed(3)} ms`)
})

test('9. two handles in one process, one sending and one receiving: 100,000 messages once, in order', (t) => {
  const { tx, rx } = pair(t, { capacity: 16384, kind: 'spsc' })
  const COUNT = 100000
  const fixed = Buffer.alloc(64) // the same Buffer every other message: adopted
  const byLength = []
  for (let n = 9; n < 9 + 57; n++) byLength.push(Buffer.alloc(n))
  const into = new Uint8Array(128)
  const before = snapshot()
  let sent = 0
  let received = 0
  let bytes = 0
  const check = (m, n) => {
    if (m.readUInt32LE(0) !== received || m.readUInt32LE(4) !== (received * 2654435761) >>> 0 ||
        n !== (received % 2 ? 64 : 9 + (received % 57)) ||
        m[n - 1] !== ((received + n) & 255)) {
      assert.fail(`message ${received}: seq ${m.readUInt32LE(0)}, ${n} bytes`)
    }
    bytes += n
    received++
  }
  const view = Buffer.from(into.buffer, into.byteOffset, into.length)
  while (received < COUNT) {
    for (; sent < COUNT; sent++) {
      const m = sent % 2 ? fixed : byLength[sent % 57]
      m.writeUInt32LE(sent, 0)
      m.writeUInt32LE((sent * 2654435761) >>> 0, 4)
      m[m.length - 1] = (sent + m.length) & 255
      if (!tx.send(m)) break
    }
    for (;;) {
      if (received % 3) {
        const n = rx.receiveInto(into)
        if (n === null) break
        check(view, n)
      } else {
        const m = rx.receive()
        if (m === null) break
        check(m, m.length)
      }
    }
  }
  assert.strictEqual(received, COUNT)
  assert.strictEqual(rx.receive(), null)
  const s = rx.stats()
  assert.strictEqual(s.messagesSent, COUNT)
  assert.strictEqual(s.messagesReceived, COUNT)
  assert.strictEqual(s.bytesSent, bytes)
  assert.strictEqual(s.bytesReceived, bytes)
  const d = delta(before)
  assert.strictEqual(d.channelSend, 1, 'only the first send entered C')
  assert.ok(d.channelReceiveInto <= 2, `native receives: ${d.channelReceiveInto}`)
  assert.strictEqual(d.channelWake, 0, 'no wake calls without a sleeper')
})

test('10. a 0-byte message through the JS receive() before the process made its receive pool', async () => {
  const name = trackPosix(uniqueName('spscjs-pool'))
  const r = await runNode(FIXTURE, ['fresh-pool', name], { timeout: 30000 })
  try { shmem.unlink(name) } catch {}
  assert.strictEqual(r.signal, null, r.stderr)
  assert.strictEqual(r.code, 0, r.stderr)
  assert.deepStrictEqual(JSON.parse(r.stdout), {
    first: 5, empty: 0, emptyIsBuffer: true, after: 'after'
  })
})

test('an own length property on a Buffer does not change what is copied (send, receiveInto)', (t) => {
  const { tx, rx } = pair(t)
  assert.ok(tx.send(Buffer.from('warm'))) // the first send and receive are native
  assert.strictEqual(rx.receive().toString(), 'warm')
  const fake = Buffer.alloc(64, 7)
  Object.defineProperty(fake, 'length', { value: 4 })
  for (let i = 0; i < 3; i++) assert.ok(tx.send(fake)) // the third is adopted for the word copy
  for (let i = 0; i < 3; i++) assert.deepStrictEqual(rx.receive(), Buffer.alloc(64, 7))
  assert.strictEqual(rx.receive(), null)

  const ab = new ArrayBuffer(64)
  const target = new Uint8Array(ab, 0, 4)
  Object.defineProperty(target, 'length', { value: 64 })
  for (let i = 0; i < 3; i++) {
    assert.ok(tx.send(Buffer.alloc(40, i + 1)))
    assert.throws(() => rx.receiveInto(target), OUT_OF_RANGE)
    assert.deepStrictEqual(new Uint8Array(ab, 4), new Uint8Array(60), 'nothing written past the view')
    assert.deepStrictEqual(rx.receive(), Buffer.alloc(40, i + 1)) // the message stayed
  }
})

test('a Uint8Array subclass whose length getter lies is copied by its real extent', (t) => {
  const { tx, rx } = pair(t)
  assert.ok(tx.send(Buffer.from('warm')))
  assert.strictEqual(rx.receive().toString(), 'warm')
  class Liar extends Uint8Array { get length () { return 2 } }
  const data = new Liar(40).fill(5)
  for (let i = 0; i < 3; i++) assert.ok(tx.send(data))
  for (let i = 0; i < 3; i++) assert.deepStrictEqual(rx.receive(), Buffer.alloc(40, 5))
  const target = new Liar(64)
  for (let i = 0; i < 3; i++) {
    assert.ok(tx.send(Buffer.alloc(50, i + 1)))
    assert.strictEqual(rx.receiveInto(target), 50)
    assert.deepStrictEqual(Buffer.from(target.buffer, 0, 50), Buffer.alloc(50, i + 1))
  }
  assert.strictEqual(rx.receive(), null)
})
