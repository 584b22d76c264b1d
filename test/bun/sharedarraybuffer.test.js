'use strict'
// Bun's SharedArrayBuffer segments (`bun test test/bun/`): Bun has
// node_api_create_external_sharedarraybuffer, so segment.sharedArrayBuffer is a real one:
// a worker gets it by postMessage, Atomics work on it between threads, and it outlives close().
const { test, expect } = require('bun:test')
const { Worker } = require('worker_threads')
const { once } = require('events')
const { shmem } = require('../helpers')

test('segment.sharedArrayBuffer: a SharedArrayBuffer over the mapping, to a worker and back',
  async () => {
    const seg = shmem.memfd(4096)
    const sab = seg.sharedArrayBuffer
    expect(sab instanceof SharedArrayBuffer).toBe(true)
    expect(sab.byteLength).toBe(4096)
    expect(seg.sharedArrayBuffer).toBe(sab)
    const v = seg.view(Int32Array, 0, 4, { shared: true })
    expect(v.buffer).toBe(sab)
    v[3] = 1234
    expect(seg.buffer.readInt32LE(12)).toBe(1234)

    const w = new Worker(`
      const { parentPort } = require('worker_threads')
      parentPort.once('message', (sab) => {
        const v = new Int32Array(sab)
        const seen = v[3]
        Atomics.store(v, 1, seen + 1)
        Atomics.notify(v, 1)
        parentPort.postMessage(seen)
      })`, { eval: true })
    w.postMessage(sab)
    expect(Atomics.wait(v, 1, 0, 10000)).not.toBe('timed-out')
    expect((await once(w, 'message'))[0]).toBe(1234)
    expect(seg.buffer.readInt32LE(4)).toBe(1235)
    await w.terminate()

    // close() cannot detach it: the mapping stays while it lives.
    seg.close()
    expect(v.length).toBe(4)
    expect(v[1]).toBe(1235)
    v[2] = 5
    expect(v[2]).toBe(5)
    expect(() => seg.sharedArrayBuffer)
      .toThrow(expect.objectContaining({ code: 'ERR_SHMEM_CLOSED' }))
  })
