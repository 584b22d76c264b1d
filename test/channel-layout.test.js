'use strict'
// The channel layout the binding exports (binding.channelLayout, made from the one list in
// src/channel_internal.h) is the layout lib/spsc.js moves messages with: these tests read a
// ring that only C wrote through the exported offsets and states and check every field, so
// an export that disagreed with what C writes fails here; and they hold the export to
// docs/channel-format.md, the format's description for other implementations.

const test = require('node:test')
const assert = require('assert')
const fs = require('fs')
const path = require('path')
const binding = require('../lib/binding')
const { shmem, uniqueName, trackPosix } = require('./helpers')
const { Channel } = shmem

const layout = binding.channelLayout
const H = layout.header

function create (t, options) {
  const name = trackPosix(uniqueName('layout'))
  const ch = Channel.create(name, options)
  t.after(() => {
    ch.close()
    try { shmem.unlink(name) } catch {}
  })
  return ch
}

// The channel's bytes as C left them, and readers at the exported offsets.
function header (ch) {
  const view = ch.segment.view(Buffer, 0, layout.headerSize + ch.capacity)
  const u32 = (off) => view.readUInt32LE(off)
  const u64 = (off) => Number(view.readBigUInt64LE(off))
  const record = (pos) => {
    const at = layout.headerSize + (pos & (ch.capacity - 1))
    return {
      state: u32(at + layout.record.STATE),
      length: u32(at + layout.record.LENGTH),
      pid: u32(at + layout.record.PID),
      start: u32(at + layout.record.START)
    }
  }
  return { view, u32, u64, record }
}

const span = (n) => (layout.recordHeader + n + layout.align - 1) & -layout.align

test('the export is complete, frozen, and every offset lies in the header', () => {
  assert.ok(Object.isFrozen(layout))
  for (const part of ['header', 'record', 'states', 'kinds', 'notify']) {
    assert.ok(Object.isFrozen(layout[part]), part)
  }
  for (const key of ['magic', 'version', 'headerSize', 'recordHeader', 'align', 'minCapacity',
    'maxCapacity', 'maxMessageSize']) {
    assert.ok(Number.isSafeInteger(layout[key]) && layout[key] > 0, key)
  }
  for (const [name, off] of Object.entries(H)) {
    assert.ok(Number.isInteger(off) && off >= 0 && off % 4 === 0, name)
    assert.ok(off + 4 <= layout.headerSize, name)
  }
  const offsets = Object.values(layout.record)
  assert.deepStrictEqual(offsets, [0, 4, 8, 12])
  assert.strictEqual(layout.recordHeader, 16)
  assert.strictEqual(new Set(Object.values(layout.states)).size, 4)
  // The JavaScript path needs the counters it moves on 4-byte words, head and tail on
  // cache lines of their own.
  assert.notStrictEqual(H.TAIL >> 6, H.HEAD >> 6)
})

test('C writes the header where the export says', (t) => {
  const ch = create(t, { capacity: 1000, maxMessageSize: 100, kind: 'mpsc' })
  const { u32, u64 } = header(ch)
  assert.strictEqual(u32(H.MAGIC), layout.magic)
  assert.strictEqual(u32(H.VERSION), layout.version)
  assert.strictEqual(u32(H.HEADER_SIZE), layout.headerSize)
  assert.strictEqual(u32(H.KIND), layout.kinds.mpsc)
  assert.strictEqual(u64(H.CAPACITY), 1024)
  assert.strictEqual(u64(H.MAX_MESSAGE), 100)
  assert.strictEqual(u64(H.BYTE_LENGTH), layout.headerSize + 1024)
  assert.strictEqual(u32(H.RING_OFFSET), layout.headerSize)
  assert.strictEqual(u32(H.ALIGN), layout.align)
  assert.strictEqual(Channel.byteLength({ capacity: 1000, kind: 'spsc' }), layout.headerSize + 1024)
})

test('C moves the counters and writes the records where the export says', (t) => {
  const ch = create(t, { capacity: 256, kind: 'mpsc' }) // native on both sides
  const { u32, u64, record } = header(ch)
  assert.strictEqual(u32(H.SENDERS), 0)
  assert.strictEqual(ch.send(Buffer.alloc(5, 1)), true)
  assert.strictEqual(u32(H.SENDERS), 1)
  assert.strictEqual(u32(H.TAIL), span(5))
  assert.strictEqual(u64(H.MESSAGES_SENT), 1)
  assert.strictEqual(u64(H.BYTES_SENT), 5)
  const first = record(0)
  assert.strictEqual(first.state, layout.states.COMMITTED)
  assert.strictEqual(first.length, 5)

  // A reservation is RESERVED under the reserver's pid until it is committed or aborted.
  const view = ch.reserve(7)
  assert.ok(view)
  const reserved = record(span(5))
  assert.strictEqual(reserved.state, layout.states.RESERVED)
  assert.strictEqual(reserved.length, 7)
  assert.strictEqual(reserved.pid, process.pid)
  ch.abort()
  assert.strictEqual(record(span(5)).state, layout.states.ABORTED)

  assert.strictEqual(ch.receive().length, 5)
  assert.strictEqual(u32(H.RECEIVERS), 1)
  assert.strictEqual(u64(H.MESSAGES_RECEIVED), 1)
  assert.strictEqual(u64(H.BYTES_RECEIVED), 5)
  assert.strictEqual(ch.receive(), null) // passes the aborted record
  assert.strictEqual(u32(H.HEAD), span(5) + span(7))
  assert.strictEqual(u32(H.HEAD), u32(H.TAIL))

  // A message that would not fit before the ring's end leaves a SKIP record there.
  const at = u32(H.TAIL)
  assert.strictEqual(ch.send(Buffer.alloc(100)), true)
  assert.strictEqual(ch.receive().length, 100)
  assert.strictEqual(ch.send(Buffer.alloc(100)), true)
  const skip = record(at + span(100))
  assert.strictEqual(skip.state, layout.states.SKIP)
  assert.strictEqual(skip.length, 256 - ((at + span(100)) & 255) - layout.recordHeader)
  assert.strictEqual(record(0).state, layout.states.COMMITTED)
  assert.strictEqual(record(0).length, 100)
})

test('senders and receivers wake sleepers through the words the export names', (t) => {
  const ch = create(t, { capacity: 256, kind: 'spsc' })
  const { view, u32 } = header(ch)
  // A sleeper's flag, raised by hand: the first send and receive are C's, the second the
  // JavaScript path's, and each must take the flag down and bump the sequence word beside it.
  for (const path of ['C', 'JavaScript']) {
    view.writeUInt32LE(1, H.DATA_WAITERS)
    const data = u32(H.DATA_SEQ)
    assert.strictEqual(ch.send(Buffer.from('x')), true)
    assert.strictEqual(u32(H.DATA_WAITERS), 0, path)
    assert.strictEqual(u32(H.DATA_SEQ), data + 1, path)
    view.writeUInt32LE(1, H.SPACE_WAITERS)
    const space = u32(H.SPACE_SEQ)
    assert.strictEqual(ch.receive().toString(), 'x')
    assert.strictEqual(u32(H.SPACE_WAITERS), 0, path)
    assert.strictEqual(u32(H.SPACE_SEQ), space + 1, path)
  }
  // The JavaScript path wakes only when the flag is up: it reads the words the export names
  // (the sequence words are not 0 by now, so reading one of them instead would wake).
  const wake = binding.channelWake
  let wakes = 0
  binding.channelWake = (...args) => { wakes++; return wake(...args) }
  t.after(() => { binding.channelWake = wake })
  assert.strictEqual(ch.send(Buffer.from('y')), true)
  assert.strictEqual(ch.receive().toString(), 'y')
  assert.strictEqual(wakes, 0)
  view.writeUInt32LE(1, H.DATA_WAITERS)
  view.writeUInt32LE(1, H.SPACE_WAITERS)
  assert.strictEqual(ch.send(Buffer.from('z')), true)
  assert.strictEqual(ch.receive().toString(), 'z')
  assert.strictEqual(wakes, 2)
})

test('docs/channel-format.md describes the exported layout', () => {
  const doc = fs.readFileSync(path.join(__dirname, '..', 'docs', 'channel-format.md'), 'utf8')
  const table = doc.slice(doc.indexOf('### Header'), doc.indexOf('### Records'))
  assert.match(table, new RegExp(`### Header \\(${layout.headerSize} bytes`))
  const documented = [...table.matchAll(/^\| (\d+) \| u(32|64) \| (?!reserved)/gm)]
    .map((m) => Number(m[1]))
  assert.deepStrictEqual(documented.sort((a, b) => a - b),
    Object.values(H).sort((a, b) => a - b))
  assert.match(doc, new RegExp(`magic \`0x${layout.magic.toString(16)}\``))
  for (const [name, value] of Object.entries(layout.states)) {
    assert.match(doc, new RegExp(`\`0x${value.toString(16)}\` ${name}`), name)
  }
  assert.match(doc, new RegExp(`has a ${layout.recordHeader}-byte header`))
})
