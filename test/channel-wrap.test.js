'use strict'
// Cached peer counters after 2^32 bytes of traffic. Head and tail are 32-bit counters that wrap;
// each side caches the other's counter and may only trust it while its own counter moved less
// than 2^32 since. These tests move a counter by almost exactly 2^32 on one path of a handle
// (the JavaScript spsc path or the native one) and then use the other path, where a stale cache
// would see room in a full ring (overwriting unread messages) or a message in an empty one.
// Each moves 4 GiB through a 4 KiB ring: some seconds.

const test = require('node:test')
const assert = require('node:assert')
const shmem = require('..')
const { Channel } = shmem

let counter = 0
const uniqueName = () => `/shmem-test-wrap-${process.pid}-${counter++}`

const CAP = 4096
const N = 240 // a record of 256 bytes
const LAP = 2 ** 24 // messages of 256 bytes in 2^32 bytes

function pair () {
  const name = uniqueName()
  const tx = Channel.create(name, { capacity: CAP, kind: 'spsc' })
  const rx = Channel.open(name)
  return {
    tx,
    rx,
    done () {
      tx.close()
      rx.close()
      shmem.unlink(name)
    }
  }
}

test('a native send after 2^32 bytes of JavaScript sends still sees a full ring as full', () => {
  const { tx, rx, done } = pair()
  try {
    const m = Buffer.alloc(N)
    tx.send(new Float64Array(N / 8)) // native: the C view reads the head now
    rx.receive()
    for (let k = 0; k < LAP - 16; k++) { // JavaScript both ways: the tail moves 2^32 - 16 records
      m.writeUInt32LE(k, 0)
      assert.ok(tx.send(m))
      assert.ok(rx.receive() !== null)
    }
    let sent = 0
    for (;;) {
      m.writeUInt32LE(1e9 + sent, 0)
      if (!tx.send(m)) break
      sent++
    }
    assert.strictEqual(sent, CAP / 256)
    assert.strictEqual(tx.send(new Float64Array(N / 8).fill(-1)), false, 'the ring is full')
    for (let i = 0; i < sent; i++) {
      const got = rx.receive()
      assert.strictEqual(got.readUInt32LE(0), 1e9 + i)
    }
    assert.strictEqual(rx.receive(), null)
  } finally {
    done()
  }
})

test('a JavaScript receive after 2^32 bytes of native receives still sees an empty ring as empty', () => {
  const { tx, rx, done } = pair()
  try {
    const m = Buffer.alloc(N)
    tx.send(m)
    rx.receive() // native
    tx.send(m)
    rx.receive() // JavaScript: it caches the tail now
    const f = new Float64Array(N / 8) // not a Uint8Array: receiveInto goes native
    for (let k = 0; k < LAP - 1; k++) {
      m.writeUInt32LE(k, 0)
      tx.send(m)
      assert.strictEqual(rx.receiveInto(f), N)
    }
    assert.strictEqual(rx.stats().used, 0)
    assert.strictEqual(rx.receive(), null, 'no stale message from the last lap')
    m.writeUInt32LE(0xabcdef, 0)
    assert.ok(tx.send(m))
    assert.strictEqual(rx.receive().readUInt32LE(0), 0xabcdef)
    assert.strictEqual(rx.receive(), null)
  } finally {
    done()
  }
})

test('mpsc: an idle sender after 2^32 bytes of another sender still sees a full ring as full', () => {
  const name = uniqueName()
  const a1 = Channel.create(name, { capacity: CAP, kind: 'mpsc' })
  const a2 = Channel.open(name)
  const rx = Channel.open(name)
  try {
    const m = Buffer.alloc(N)
    assert.ok(a1.send(m)) // a1 reads the head now, then idles
    rx.receive()
    for (let k = 0; k < LAP - 16; k++) {
      assert.ok(a2.send(m))
      assert.ok(rx.receive() !== null)
    }
    let sent = 0
    while (a2.send(m)) sent++
    assert.strictEqual(sent, CAP / 256)
    assert.strictEqual(a1.send(m), false, 'the ring is full')
    for (let i = 0; i < sent; i++) assert.ok(rx.receive() !== null)
    assert.strictEqual(rx.receive(), null)
  } finally {
    a1.close()
    a2.close()
    rx.close()
    shmem.unlink(name)
  }
})
