'use strict'
// Two processes share a segment, both ways, for each kind: POSIX, System V, memfd (its fd
// handed to the child through stdio) and file.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { fork } = require('child_process')
const path = require('path')
const { shmem, uniqueName, trackPosix, trackSysv, tempDir, cleanup, fixture } = require('./helpers')

after(cleanup)

// Forks the peer with spec, waits for its report, lets check() look at both sides, then
// says bye and waits for a clean exit.
function withPeer (spec, options = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(fixture('peer.js'), [JSON.stringify(spec)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...(options.extraFds || [])]
    })
    let report = null
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('peer timed out')) },
      20000)
    child.on('message', (msg) => {
      report = msg
      child.send('bye')
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (code !== 0) reject(new Error(`peer exited with ${code} ${signal}`))
      else resolve(report)
    })
  })
}

test('POSIX: parent creates, child opens; both read what the other wrote', async () => {
  const name = trackPosix(uniqueName('xp'))
  const seg = shmem.create(name, 65536)
  seg.buffer.write('hello from the parent', 1000)
  const report = await withPeer({
    kind: 'posix', name, read: [1000, 'hello from the parent'], write: [60000, 'hello from the child']
  })
  assert.equal(report.kind, 'posix')
  assert.equal(report.size, 65536)
  assert.equal(report.read, 'hello from the parent')
  assert.equal(seg.buffer.toString('utf8', 60000, 60020), 'hello from the child')
  assert.notEqual(report.pid, process.pid)
  seg.close()
  seg.unlink()
})

test('POSIX: child creates, parent opens after it', async () => {
  const name = trackPosix(uniqueName('xp2'))
  const report = await withPeer({ kind: 'posix', name, create: 8192, write: [10, 'child made me'] })
  assert.equal(report.size, 8192)
  const seg = shmem.open(name)
  assert.equal(seg.buffer.toString('utf8', 10, 23), 'child made me')
  seg.close()
  assert.equal(shmem.unlink(name), true)
})

test('System V: both ways', async () => {
  const seg = shmem.sysv.create(null, 20000)
  trackSysv(seg.key)
  seg.buffer.write('sysv parent', 0)
  const report = await withPeer({
    kind: 'sysv', key: seg.key, read: [0, 'sysv parent'], write: [19000, 'sysv child']
  })
  assert.equal(report.read, 'sysv parent')
  assert.equal(report.key, seg.key)
  assert.equal(seg.buffer.toString('utf8', 19000, 19010), 'sysv child')
  seg.remove()
  seg.close()

  const key = 0x5f000000 + (process.pid % 0xffffff)
  trackSysv(key)
  await withPeer({ kind: 'sysv', key, create: 4096, write: [1, 'made by child'] })
  const again = shmem.sysv.open(key)
  assert.equal(again.buffer.toString('utf8', 1, 14), 'made by child')
  assert.equal(again.remove(), true)
  again.close()
})

test('memfd: the fd handed to the child through stdio', async () => {
  const seg = shmem.memfd(3 * 4096, { name: 'shmem-test-xp' })
  seg.buffer.write('memfd parent', 4096)
  // The child sees the parent's memfd as its fd 4 (stdio slot 4; slot 3 is the IPC channel).
  const report = await withPeer({
    kind: 'memfd', fd: 4, read: [4096, 'memfd parent'], write: [8192, 'memfd child']
  }, { extraFds: [seg.fd] })
  assert.equal(report.kind, 'memfd')
  assert.equal(report.name, 'shmem-test-xp')
  assert.equal(report.size, 3 * 4096)
  assert.equal(report.read, 'memfd parent')
  assert.equal(seg.buffer.toString('utf8', 8192, 8203), 'memfd child')
  seg.close()
})

test('file: both ways, and the bytes land in the file', async () => {
  const file = path.join(tempDir(), 'shared.bin')
  const seg = shmem.mapFile(file, { size: 10000, create: true })
  seg.buffer.write('file parent', 100)
  const report = await withPeer({
    kind: 'file', path: file, read: [100, 'file parent'], write: [9000, 'file child']
  })
  assert.equal(report.kind, 'file')
  assert.equal(report.read, 'file parent')
  assert.equal(seg.buffer.toString('utf8', 9000, 9010), 'file child')
  seg.sync()
  assert.equal(require('fs').readFileSync(file).toString('utf8', 9000, 9010), 'file child')
  seg.close()
})
