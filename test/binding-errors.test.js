'use strict'
// The native binding's errors: every row of its table (src/napi/errors.h) throws its code and
// class; where the C layer and the JS layer throw the same code for the same condition, the
// messages are the same (lib/errors.js holds the JS side's); every argument conversion that
// can fail throws a coded error, never returns undefined; one timeout convention.

const test = require('node:test')
const assert = require('node:assert/strict')
const { runSnippet } = require('./helpers')
const binding = require('../lib/binding')

const CLASSES = { Error, TypeError, RangeError }

// Runs a snippet in a child (a binding call that goes wrong could crash); it prints ok.
async function inChild (code) {
  const r = await runSnippet(code)
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout.trim(), /^ok( \d+)?$/)
}

test('each row of the C table throws its code and its class', () => {
  const rows = binding.errorRows()
  assert.ok(rows.length >= 20, `only ${rows.length} rows`)
  const names = new Set()
  rows.forEach(([name, cls, code], i) => {
    assert.ok(!names.has(name), `row ${name} twice`)
    names.add(name)
    assert.ok(cls in CLASSES, `row ${name}: class ${cls}`)
    assert.match(code, /^(ERR_[A-Z_]+|E[A-Z]+)$/, `row ${name}: code ${code}`)
    assert.throws(() => binding.throwErrorRow(i), (err) => {
      assert.equal(err.constructor, CLASSES[cls], `row ${name}`)
      assert.equal(err.code, code, `row ${name}`)
      assert.equal(typeof err.message, 'string')
      return true
    })
  })
  assert.throws(() => binding.throwErrorRow(rows.length), { code: 'ERR_OUT_OF_RANGE' })
})

test('C and JS word the same condition the same way', async () => {
  await inChild(`
    const b = require(${JSON.stringify(require.resolve('../lib/binding'))})
    const { makeError } = require(${JSON.stringify(require.resolve('../lib/errors'))})
    const same = (fn, expected) => {
      try { fn() } catch (e) {
        assert.equal(e.code, expected.code, String(e))
        assert.equal(e.constructor, expected.constructor, String(e))
        assert.equal(e.message, expected.message)
        return
      }
      throw new Error('did not throw: ' + fn)
    }
    const seg = shmem.memfd(65536)
    const h = b.memfdCreate(65536, 0, null)
    const length = b.channelByteLength(1024, 256, 2)
    const open = () => b.channelOpen(h, 0, length, true, 1024, 256, 2, new Float64Array(12), () => {})
    const id = open()

    // A channel that is not open (closed, or never opened).
    const gone = open()
    b.channelClose(gone)
    same(() => b.channelSend(gone, Buffer.alloc(1)), makeError('ERR_SHMEM_CLOSED', 'The channel'))
    // The JS layer's own check says it in the same words.
    const ch = shmem.Channel.init(seg, 0, shmem.Channel.byteLength({ capacity: 1024, kind: 'mpsc' }), { capacity: 1024, kind: 'mpsc' })
    ch.close()
    same(() => ch.send(Buffer.alloc(1)), makeError('ERR_SHMEM_CLOSED', 'The channel'))

    // Its state: a reserve() open twice.
    b.channelReserve(id, 8)
    same(() => b.channelReserve(id, 8),
      makeError('ERR_INVALID_STATE', 'a reserve() or peek() is open on this channel'))
    b.channelAbort(id)

    // Garbage where a channel should be.
    const junk = b.arrayBuffer(h, 8192, 8192)
    new Uint8Array(junk).fill(0xa5)
    same(() => b.channelOpen(h, 8192, length, false, 0, 0, 0, new Float64Array(12), () => {}),
      makeError('ERR_SHMEM_BAD_STATE', "The channel's shared state",
        'it was never initialized, or another process overwrote it'))

    // A closed segment, under a channel and on its own.
    const h2 = b.memfdCreate(65536, 0, null)
    const id2 = b.channelOpen(h2, 0, length, true, 1024, 256, 2, new Float64Array(12), () => {})
    b.close(h2)
    same(() => b.channelSend(id2, Buffer.alloc(1)),
      makeError('ERR_SHMEM_CLOSED', "The channel's segment"))
    same(() => b.futexWake(h2, 0, 1), makeError('ERR_SHMEM_CLOSED'))
    seg.close()
    b.channelClose(id2)
    b.channelClose(id)
    b.close(h)
    console.log('ok')
  `)
})

test('a wrong-typed argument to any binding function is a coded error, never undefined',
  async () => {
    await inChild(`
    const b = require(${JSON.stringify(require.resolve('../lib/binding'))})
    const h = b.memfdCreate(65536, 0, null)
    const length = b.channelByteLength(1024, 256, 2)
    const id = b.channelOpen(h, 0, length, true, 1024, 256, 2, new Float64Array(12), () => {})
    const buf = Buffer.alloc(64)
    const cb = () => {}
    // Each function with arguments it takes; every one of them, replaced by a value of a wrong
    // type, must throw ERR_INVALID_ARG_TYPE before anything happens.
    const calls = [
      ['channelByteLength', [1024, 256, 2]],
      ['channelOpen', [h, 4096, length, true, 1024, 256, 2, new Float64Array(12), cb]],
      ['channelClose', [2 ** 31]],
      ['channelSend', [id, buf]],
      ['channelReserve', [id, 8]],
      ['channelCommit', [id, 0]],
      ['channelAbort', [id]],
      ['channelPeek', [id]],
      ['channelRelease', [id]],
      ['channelReceiveInto', [id, buf, 0, true]],
      ['channelReceiveWait', [id, buf, 0, 0]],
      ['channelSendWait', [id, buf, 0]],
      ['channelWaitSync', [id, 0, 0, 0]],
      ['channelWait', [id, 0, 0, 0]],
      ['channelCancel', [id, 0]],
      ['channelWake', [id, 1]],
      ['channelStats', [id]],
      ['futexWait', [h, 0, 1, 0, 0]],
      ['futexWake', [h, 0, 1]],
      ['futexWaitAsync', [h, 0, 1, 0, cb]],
      ['flockTry', [h, 2]],
      ['flockWait', [h, 2, 0]],
      ['flockAsync', [h, 2, 0, cb]],
      ['flockRelease', [h]],
      ['cancelWait', [0]],
      ['threadAlive', [1, 0]],
      ['errorText', [-2]],
      ['init', [new Float64Array(8)]],
      ['posixCreate', ['/x', 4096, 0, 0o600]],
      ['posixOpen', ['/x', 0, 0]],
      ['posixUnlink', ['/x']],
      ['fdMap', [0, 0, 0, 0]],
      ['fileMap', ['/x', 0, 0, 0, 0o600]],
      ['sysvOpen', [1, 0, 0]],
      ['sysvRemoveId', [1]],
      ['arrayBuffer', [h, 0, 1]],
      ['segmentName', [h]],
      ['unlink', [h]],
      ['advise', [h, 0, 0, 4096]],
      ['sync', [h, 0, 0, 4096]],
      ['residency', [h, 0, 4096]],
      ['lockMemory', [h, true]],
      ['unlockMemory', [h]],
      ['stat', [h]],
      ['map', [4096, 3, 0x22, -1, 0, -1]]
    ]
    const wrong = (valid) => [{}, Symbol('s'), 10n, ...(typeof valid === 'string' ? [1] : ['a'])]
    let checked = 0
    for (const [name, args] of calls) {
      assert.equal(typeof b[name], 'function', name)
      for (let i = 0; i < args.length; i++) {
        for (const bad of wrong(args[i])) {
          const call = args.slice()
          call[i] = bad
          let result, error
          try { result = b[name](...call) } catch (e) { error = e }
          const what = name + ' argument ' + i + ' ' + typeof bad
          assert.ok(error, what + ': returned ' + String(result))
          assert.equal(error.code, 'ERR_INVALID_ARG_TYPE', what + ': ' + error)
          assert.ok(error instanceof TypeError, what)
          checked++
        }
      }
    }
    // The example of issue 13, which returned undefined.
    assert.throws(() => b.channelWaitSync(id, 'a', 1, 0), { code: 'ERR_INVALID_ARG_TYPE' })
    // which out of range, where a wait returned undefined without arming.
    assert.throws(() => b.channelWait(id, 2, 0, 0), { code: 'ERR_OUT_OF_RANGE' })
    assert.throws(() => b.channelCancel(id, 5), { code: 'ERR_OUT_OF_RANGE' })
    b.channelClose(id)
    b.close(h)
    console.log('ok', checked)
  `)
  })

test('one timeout convention: -1 or Infinity waits without a limit, NaN is refused', async () => {
  await inChild(`
    const b = require(${JSON.stringify(require.resolve('../lib/binding'))})
    const h = b.memfdCreate(65536, 0, null)
    const length = b.channelByteLength(1024, 256, 2)
    const id = b.channelOpen(h, 0, length, true, 1024, 256, 2, new Float64Array(12), () => {})
    const WORD = 65532 // past the channel: a word that stays 0
    // Ready at once, so an unlimited wait returns.
    for (const t of [-1, Infinity, 0, 5]) {
      assert.ok([0, 2].includes(b.channelWaitSync(id, 1, 8, t)), 'channel ' + t)
      assert.equal(b.flockWait(h, 2, t), true, 'flock ' + t)
      b.flockRelease(h)
      assert.equal(b.futexWait(h, WORD, 1, t, 0), 1, 'futex ' + t)
      assert.equal(b.channelSendWait(id, Buffer.alloc(1), t), true, 'sendWait ' + t)
      assert.equal(b.channelReceiveWait(id, Buffer.alloc(8), 0, t), 1, 'receiveWait ' + t)
    }
    // Nothing comes: a limited wait times out.
    assert.equal(b.channelWaitSync(id, 0, 0, 1), 1)
    assert.equal(b.futexWait(h, WORD, 0, 1, 0), 2)
    assert.equal(b.channelReceiveWait(id, Buffer.alloc(8), 0, 1), -1)
    // An unlimited asynchronous wait runs until it is cancelled.
    const result = await new Promise((resolve) => {
      const job = b.futexWaitAsync(h, WORD, 0, -1, resolve)
      setTimeout(() => b.cancelWait(job), 50)
    })
    assert.equal(result, 3)
    for (const call of [
      () => b.channelWaitSync(id, 0, 0, NaN),
      () => b.channelSendWait(id, Buffer.alloc(1), NaN),
      () => b.futexWait(h, WORD, 0, NaN, 0),
      () => b.flockWait(h, 2, NaN)
    ]) {
      assert.throws(call, { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' })
    }
    b.channelClose(id)
    b.close(h)
    console.log('ok')
  `)
})
