'use strict'
// Channels across processes: many senders, many receivers, senders and receivers killed with
// SIGKILL, and the C program in examples/c/ talking to Node both ways.

const test = require('node:test')
const assert = require('assert')
const { execFileSync, spawn } = require('child_process')
const path = require('path')
const { shmem, uniqueName, trackPosix, runNode, fixture } = require('./helpers')
const { makeMessage, parseMessage } = require('./fixtures/channel-peer')
const { Channel } = shmem

const PEER = fixture('channel-peer.js')
const ROOT = path.resolve(__dirname, '..')

function create (t, options) {
  const name = trackPosix(uniqueName('chx'))
  const ch = Channel.create(name, options)
  t.after(() => {
    ch.close()
    try { shmem.unlink(name) } catch {}
  })
  return { ch, name }
}

// A child that stays up until the test kills it; resolves the first line it prints.
function startPeer (t, args) {
  const child = spawn(process.execPath, [PEER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  const firstLine = new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('\n')) resolve(out.split('\n')[0])
    })
    child.on('exit', (code, signal) => reject(new Error(`peer exited (${code}, ${signal}) ${stderr}`)))
  })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  return { child, firstLine, exited }
}

test('mpsc: 4 sender processes x 200,000 messages, each received exactly once, in order', async (t) => {
  const SENDERS = 4
  const COUNT = 200000
  const { name } = create(t, { capacity: 64 * 1024, maxMessageSize: 256, kind: 'mpsc' })
  const receiver = runNode(PEER, ['receive', name, String(SENDERS), String(COUNT)], { timeout: 120000 })
  const senders = []
  for (let s = 0; s < SENDERS; s++) {
    senders.push(runNode(PEER, ['send', name, String(s), String(COUNT)], { timeout: 120000 }))
  }
  for (const r of await Promise.all(senders)) {
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(r.stdout.trim(), 'done')
  }
  const r = await receiver
  assert.strictEqual(r.code, 0, r.stderr)
  const result = JSON.parse(r.stdout)
  assert.deepStrictEqual(result.problems, [])
  assert.deepStrictEqual(result.next, new Array(SENDERS).fill(COUNT))
  assert.strictEqual(result.extra, false)
  assert.strictEqual(result.stats.messagesSent, SENDERS * COUNT)
  assert.strictEqual(result.stats.messagesReceived, SENDERS * COUNT)
})

test('mpmc: 2 senders to 2 receivers, every message delivered once across them', async (t) => {
  const COUNT = 30000
  const { name } = create(t, { capacity: 16 * 1024, maxMessageSize: 256, kind: 'mpmc' })
  const receivers = [0, 1].map(() => runNode(PEER, ['drain', name, String(2 * COUNT)], { timeout: 120000 }))
  const senders = [0, 1].map((s) => runNode(PEER, ['send', name, String(s), String(COUNT)], { timeout: 120000 }))
  for (const r of await Promise.all(senders)) assert.strictEqual(r.code, 0, r.stderr)
  const results = (await Promise.all(receivers)).map((r) => {
    assert.strictEqual(r.code, 0, r.stderr)
    return JSON.parse(r.stdout)
  })
  for (const r of results) assert.deepStrictEqual(r.problems, [])
  assert.strictEqual(results[0].received + results[1].received, 2 * COUNT)
  // Exactly once: the counts, sums and sums of squares of the sequence numbers add up.
  const expectedSum = (COUNT * (COUNT - 1)) / 2
  const expectedSquares = ((COUNT - 1) * COUNT * (2 * COUNT - 1)) / 6
  for (const s of ['0', '1']) {
    const parts = results.map((r) => r.sums[s] || { count: 0, sum: 0, squares: 0 })
    assert.strictEqual(parts[0].count + parts[1].count, COUNT)
    assert.strictEqual(parts[0].sum + parts[1].sum, expectedSum)
    assert.strictEqual(parts[0].squares + parts[1].squares, expectedSquares)
  }
})

test('kill -9 of a sender between reserve and commit: the reservation is skipped', async (t) => {
  const { ch, name } = create(t, { capacity: 4096, kind: 'mpsc' })
  const peer = startPeer(t, ['reserve-and-die', name])
  assert.strictEqual(await peer.firstLine, 'reserved')
  peer.child.kill('SIGKILL')
  assert.strictEqual((await peer.exited).signal, 'SIGKILL')
  const tx = Channel.open(name)
  t.after(() => tx.close())
  tx.send('after')
  assert.strictEqual(ch.receiveSync({ timeout: 5000 }).toString(), 'before')
  assert.strictEqual(ch.receiveSync({ timeout: 5000 }).toString(), 'after')
  assert.strictEqual(ch.receive(), null)
  assert.strictEqual(ch.stats().abandoned, 1)
})

test('kill -9 of a sender in the middle of a stream: no torn message, the channel goes on', async (t) => {
  const { ch, name } = create(t, { capacity: 8192, maxMessageSize: 256, kind: 'mpsc' })
  const peer = startPeer(t, ['stream', name, '0'])
  let next0 = 0
  const problems = []
  const take = (m) => {
    const p = parseMessage(m)
    if (typeof p === 'string') problems.push(p)
    else if (p.sender === 0) {
      if (p.seq !== next0) problems.push(`sender 0: ${p.seq} after ${next0 - 1}`)
      next0 = p.seq + 1
    }
    return p
  }
  // Receive while it streams, then kill it at some point in the middle.
  while (next0 < 5000) {
    const m = await ch.receiveAsync({ timeout: 10000 })
    assert.ok(m !== null, 'the stream stalled')
    take(m)
  }
  peer.child.kill('SIGKILL')
  await peer.exited
  const after = runNode(PEER, ['send', name, '1', '2000'], { timeout: 60000 })
  let next1 = 0
  while (next1 < 2000) {
    const m = await ch.receiveAsync({ timeout: 10000 })
    assert.ok(m !== null, `stalled after the kill (${next1} of sender 1's messages)`)
    const p = take(m)
    if (typeof p !== 'string' && p.sender === 1) {
      if (p.seq !== next1) problems.push(`sender 1: ${p.seq} after ${next1 - 1}`)
      next1 = p.seq + 1
    }
  }
  assert.strictEqual((await after).code, 0)
  assert.deepStrictEqual(problems, [])
  assert.ok(ch.stats().abandoned <= 1)
})

test('kill -9 of a receiver: senders see a full ring, a new receiver goes on', async (t) => {
  const { ch, name } = create(t, { capacity: 1024, kind: 'spsc' })
  for (let i = 0; i < 5; i++) ch.send(`m${i}`)
  const peer = startPeer(t, ['peek-and-die', name, '2'])
  assert.strictEqual(await peer.firstLine, 'peeked m2')
  peer.child.kill('SIGKILL')
  await peer.exited
  let i = 5
  while (ch.send(`m${i}`)) i++
  assert.ok(i > 20, 'backpressure only once the ring is full')
  assert.strictEqual(ch.sendSync('extra', { timeout: 10 }), 'timed-out')
  // The peeked message was never released: the new receiver gets it first.
  const rx = Channel.open(name)
  t.after(() => rx.close())
  for (let j = 2; j < i; j++) assert.strictEqual(rx.receive().toString(), `m${j}`)
  assert.strictEqual(rx.receive(), null)
  assert.strictEqual(ch.send('more'), true)
  assert.strictEqual(rx.receive().toString(), 'more')
})

test('the C program in examples/c/ and Node, both ways', async (t) => {
  execFileSync('make', ['-s', 'examples'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
  const program = path.join(ROOT, 'out', 'examples', 'channel')
  const COUNT = 5000
  const run = (args) => new Promise((resolve) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })

  // Node sends, C receives.
  const { ch: tx, name: toC } = create(t, { capacity: 2048, kind: 'spsc' })
  const receiving = run(['receive', toC, String(COUNT)])
  for (let i = 0; i < COUNT; i++) {
    assert.strictEqual(await tx.sendAsync(`message ${i}`, { timeout: 30000 }), 'ok')
  }
  const r1 = await receiving
  assert.strictEqual(r1.code, 0, r1.stderr)
  assert.strictEqual(r1.stdout.trim(), `received ${COUNT} in order`)

  // C sends, Node receives.
  const { ch: rx, name: fromC } = create(t, { capacity: 2048, kind: 'mpsc' })
  const sending = run(['send', fromC, String(COUNT)])
  for (let i = 0; i < COUNT; i++) {
    const m = await rx.receiveAsync({ timeout: 30000 })
    assert.ok(m !== null, `timed out at ${i}`)
    assert.strictEqual(m.toString(), `message ${i}`)
  }
  const r2 = await sending
  assert.strictEqual(r2.code, 0, r2.stderr)
  assert.strictEqual(r2.stdout.trim(), `sent ${COUNT}`)

  // A channel C created, opened from Node.
  const name = trackPosix(uniqueName('chx-c'))
  t.after(() => { try { shmem.unlink(name) } catch {} })
  const r3 = await run(['create', name, '4096', 'mpmc'])
  assert.strictEqual(r3.code, 0, r3.stderr)
  const opened = Channel.open(name)
  t.after(() => opened.close())
  assert.strictEqual(opened.kind, 'mpmc')
  assert.strictEqual(opened.capacity, 4096)
  opened.send(makeMessage(3, 9))
  assert.deepStrictEqual(parseMessage(opened.receive()), { sender: 3, seq: 9 })
})

test('receiveAsync in a child keeps its loop running until a message from another process', async (t) => {
  const { ch, name } = create(t, { capacity: 4096, kind: 'spsc' })
  const code = `
    const ch = shmem.Channel.open(${JSON.stringify(name)})
    let ticks = 0
    const timer = setInterval(() => { ticks++ }, 5)
    console.log('waiting')
    const m = await ch.receiveAsync({ timeout: 20000 })
    clearInterval(timer)
    console.log(JSON.stringify({ message: m && m.toString(), ticks }))
    ch.close()`
  const { runSnippet } = require('./helpers')
  const child = runSnippet(code, { timeout: 30000 })
  await new Promise((resolve) => setTimeout(resolve, 300))
  ch.send('from the parent')
  const r = await child
  assert.strictEqual(r.code, 0, r.stderr)
  const result = JSON.parse(r.stdout.split('\n')[1])
  assert.strictEqual(result.message, 'from the parent')
  assert.ok(result.ticks > 0, 'the child ran timers while it waited')
})
