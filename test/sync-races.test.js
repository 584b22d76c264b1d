'use strict'
// Waits that race with close(), worker teardown and each other (found in review): each runs
// in a child process, which must print what it should and end by itself.
const test = require('node:test')
const assert = require('node:assert')
const path = require('path')
const { spawn } = require('child_process')
const shmem = require('..')

const FIXTURE = path.join(__dirname, 'fixtures', 'sync-race.js')
let counter = 0
const names = []
test.after(() => { for (const n of names) shmem.unlink(n) })

function run (scenario, { timeout = 30000 } = {}) {
  const name = `/shmem-test-race-${process.pid}-${++counter}`
  names.push(name)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, scenario, name], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, out, err, name })
    })
  })
}

test('close() right after waitAsync() always settles it with ERR_SHMEM_CLOSED', async () => {
  const r = await run('close-during-waitAsync')
  assert.equal(r.signal, null, `the child hung: ${r.out}${r.err}`)
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /settled 50 of 50/)
})

test('a worker that exits or is terminated while its waitAsync is pending ends', async () => {
  const r = await run('worker-exit-during-waitAsync')
  assert.equal(r.signal, null, `the child hung: ${r.out}${r.err}`)
  assert.match(r.out, /workers ended 10 of 10/)
})

test('worker.terminate() ends a worker blocked in shmem.wait() or segment.lock()', async () => {
  const name = `/shmem-test-race-${process.pid}-${++counter}`
  names.push(name)
  const holder = shmem.create(name, 4096)
  try {
    holder.lock('exclusive')
    const r = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [FIXTURE, 'terminate-sync-wait', name], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.on('data', (d) => { out += d })
      child.stderr.on('data', (d) => { err += d })
      const timer = setTimeout(() => child.kill('SIGKILL'), 20000)
      child.on('error', reject)
      child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out, err }) })
    })
    assert.equal(r.signal, null, `the child hung: ${r.out}${r.err}`)
    assert.match(r.out, /terminated wait\nterminated flock/)
  } finally {
    holder.close()
  }
})

test('a sync lock() never freezes on a sibling Segment whose lockAsync() is about to win', async () => {
  const r = await run('lockAsync-pending-then-sync-lock')
  assert.equal(r.signal, null, `the child froze: ${r.out}${r.err}`)
  assert.match(r.out, /B ERR_SHMEM_WOULD_DEADLOCK\nA true/)
})

test('close() while lockAsync() is taking the lock rejects it with ERR_SHMEM_CLOSED', async () => {
  const r = await run('lockAsync-then-close')
  assert.equal(r.signal, null, `the child hung: ${r.out}${r.err}`)
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /rejected ERR_SHMEM_CLOSED\na again true/)
})
