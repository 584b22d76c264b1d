'use strict'
// A Channel made with autoUnlink goes with its creator, however the creator ends.
const test = require('node:test')
const assert = require('node:assert')
const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawn } = require('child_process')
const shmem = require('..')

const FIXTURE = path.join(__dirname, 'fixtures', 'lifecycle-channel.js')
let counter = 0
const names = []

test.after(() => {
  for (const name of names) shmem.unlink(name)
})

function run (how, signal) {
  const name = `/shmem-test-lcch-${process.pid}-${++counter}`
  names.push(name)
  const registry = fs.mkdtempSync(path.join(os.tmpdir(), 'shmem-test-lcch-'))
  const child = spawn(process.execPath, [FIXTURE, name, how], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SHMEM_REGISTRY: registry }
  })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d
      if (signal && stdout.includes('\n')) {
        assert.ok(fs.existsSync('/dev/shm' + name), 'the channel exists while its creator runs')
        child.kill(signal)
      }
    })
    child.on('error', reject)
    child.on('close', (code, sig) => {
      fs.rmSync(registry, { recursive: true, force: true })
      resolve({ name, code, signal: sig, stdout, stderr })
    })
  })
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  test(`Channel with autoUnlink: ${signal} removes its segment, the process still dies of it`,
    async () => {
      const r = await run('wait', signal)
      assert.equal(r.signal, signal, r.stderr)
      assert.equal(fs.existsSync('/dev/shm' + r.name), false, 'the channel segment is gone')
    })
}

for (const [how, code] of [['normal', 0], ['exit3', 3], ['throw', 1]]) {
  test(`Channel with autoUnlink: ${how} ends with ${code} and leaves no segment`, async () => {
    const r = await run(how)
    assert.equal(r.code, code, r.stderr)
    assert.equal(fs.existsSync('/dev/shm' + r.name), false, 'the channel segment is gone')
    if (how === 'throw') assert.match(r.stderr, /uncaught on purpose/)
  })
}

test('Channel without autoUnlink stays after its creator ends; an opener removes nothing', () => {
  const name = `/shmem-test-lcch-${process.pid}-${++counter}`
  names.push(name)
  const ch = shmem.Channel.create(name, { capacity: 4096, kind: 'spsc' })
  ch.close()
  assert.ok(fs.existsSync('/dev/shm' + name))
  const opened = shmem.Channel.open(name)
  opened.close()
  assert.ok(fs.existsSync('/dev/shm' + name))
})
