'use strict'
// Bun's smoke suite: `bun test test/bun/` (.ci/run runs it with the @oven/bun-linux-x64
// package). Bun loads the same Node-API addon as Node; these check the four capabilities a
// Bun user meets first, across two Bun processes where the capability is about processes.
// The node:test suites (test/*.test.js) are Node's; this file is not one of them.
const { test, expect, afterAll } = require('bun:test')
const { spawn } = require('child_process')
const path = require('path')
const { shmem, uniqueName: unique, trackPosix, cleanup, runNode } = require('../helpers')

// The helpers are plain Node APIs, which Bun has: the same names, cleanup and child runner as
// the node:test suites (runNode starts process.execPath, here Bun).
afterAll(cleanup)
const uniqueName = (tag) => trackPosix(unique(`bun-${tag}`))

const PEER = path.join(__dirname, 'peer.js')
const peer = (args) => runNode(PEER, args, { timeout: 20000 })

test('a POSIX segment: create, views, another process reads and writes it, close, unlink', async () => {
  const name = uniqueName('seg')
  const seg = shmem.create(name, 8192)
  const words = seg.view(Int32Array)
  expect(seg.size).toBe(8192)
  expect(words.length).toBe(2048)
  seg.buffer.write('from bun', 100)
  const r = await peer(['segment', name])
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  expect(r.stdout.trim()).toBe('from bun')
  expect(seg.buffer.toString('utf8', 200, 205)).toBe('peer!')
  seg.close()
  expect(words.length).toBe(0)
  expect(() => seg.buffer).toThrow(expect.objectContaining({ code: 'ERR_SHMEM_CLOSED' }))
  expect(shmem.unlink(name)).toBe(true)
  expect(shmem.unlink(name)).toBe(false)
})

test('memfd and the errors a bad input gets', () => {
  const seg = shmem.memfd(4096)
  seg.buffer[4095] = 7
  expect(seg.view(Uint8Array, 4095, 1)[0]).toBe(7)
  seg.close()
  expect(() => shmem.create('no-slash/x', 4096)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
  expect(() => shmem.memfd(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }))
  expect(() => shmem.open(uniqueName('absent'))).toThrow(expect.objectContaining({ code: 'ENOENT' }))
})

test('a channel round trip between two Bun processes', async () => {
  const requests = uniqueName('req')
  const replies = uniqueName('rep')
  const req = shmem.Channel.create(requests, { kind: 'spsc', capacity: 4096 })
  const rep = shmem.Channel.create(replies, { kind: 'spsc', capacity: 4096 })
  const echo = peer(['echo', requests, replies, '100'])
  for (let i = 0; i < 100; i++) {
    expect(req.sendSync(`ping ${i}`, { timeout: 10000 })).toBe('ok')
    const got = rep.receiveSync({ timeout: 10000 })
    expect(got === null ? null : got.toString()).toBe(`pong ${i}`)
  }
  const r = await echo
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  req.close()
  rep.close()
})

test('a Mutex held by another process: tryLock is busy, then ours once it unlocks', async () => {
  const name = uniqueName('mutex')
  const seg = shmem.create(name, 4096)
  const m = shmem.Mutex.init(seg, 0)
  const holder = spawn(process.execPath, [PEER, 'hold', name], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  await new Promise((resolve, reject) => {
    holder.stdout.on('data', (d) => {
      out += d
      if (out.includes('held')) resolve()
    })
    holder.on('close', (code) => reject(new Error(`holder exited ${code} before holding`)))
  })
  expect(m.tryLock()).toBe(false)
  holder.stdin.end()
  await new Promise((resolve) => holder.on('close', resolve))
  expect(m.lock({ timeout: 10000 })).toBe(true)
  m.unlock()
  seg.close()
})

test('wait/notify across processes: a Bun waiter is woken by a notify from here', async () => {
  const name = uniqueName('wait')
  const seg = shmem.create(name, 4096)
  const word = seg.view(Int32Array, 0, 1)
  const waiter = peer(['wait', name])
  // Notify until the waiter has seen the change (it may not be asleep yet on the first try).
  const deadline = Date.now() + 10000
  Atomics.store(word, 0, 1)
  let r = null
  waiter.then((x) => { r = x })
  while (r === null && Date.now() < deadline) {
    shmem.notify(word, 0)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  expect(r).not.toBeNull()
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  expect(r.stdout.trim()).toMatch(/^(ok|not-equal)$/)
  expect(shmem.wait(word, 0, 0, 10)).toBe('not-equal')
  expect(shmem.wait(word, 0, 1, 10)).toBe('timed-out')
  seg.close()
})
