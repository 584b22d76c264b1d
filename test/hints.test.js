'use strict'
// Errors that say how to fix them: a mode written in decimal that reads as octal, and EACCES
// on a read-write open of an object the caller may read.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('child_process')
const fs = require('fs')
const path = require('path')
const { shmem, uniqueName, trackPosix, cleanup, tempDir } = require('./helpers')

after(cleanup)

test('a decimal mode whose digits are octal gets a hint', () => {
  for (const mode of [644, 600, 666, 777]) {
    assert.throws(() => shmem.create(uniqueName('mode'), 4096, { mode }), {
      code: 'ERR_OUT_OF_RANGE',
      message: new RegExp(`Received ${mode}\\. ${mode} looks like an octal mode written in decimal: write 0o${mode} or '${mode}'$`)
    })
  }
  // Out of range with an 8 or 9 in it: no hint.
  assert.throws(() => shmem.create(uniqueName('mode'), 4096, { mode: 1000 }), (err) => {
    assert.equal(err.code, 'ERR_OUT_OF_RANGE')
    assert.doesNotMatch(err.message, /octal mode/)
    return true
  })
  // The spellings the hint suggests work.
  for (const mode of [0o644, '644', '0o644']) {
    const name = trackPosix(uniqueName('mode'))
    const seg = shmem.create(name, 4096, { mode })
    assert.equal(seg.stat().mode & 0o777, 0o644)
    seg.close()
    shmem.unlink(name)
  }
})

// Runs code as "nobody": root ignores permissions, so EACCES needs another user.
function asNobody (code) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', code], {
      uid: 65534, gid: 65534, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_PATH: '' }
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    child.on('error', reject)
    child.on('close', (status) => resolve({ status, out, err }))
  })
}

test('EACCES on a read-write open of a readable object suggests readOnly', async (t) => {
  if (process.getuid() !== 0) return t.skip('needs root to run the check as another user')
  const root = JSON.stringify(path.join(__dirname, '..'))
  const name = trackPosix(uniqueName('acc'))
  const seg = shmem.create(name, 4096, { mode: 0o644 })
  const dir = tempDir()
  fs.chmodSync(dir, 0o755)
  const file = path.join(dir, 'readable')
  fs.writeFileSync(file, Buffer.alloc(4096), { mode: 0o644 })
  const secret = trackPosix(uniqueName('acc'))
  const hidden = shmem.create(secret, 4096, { mode: 0o600 })
  try {
    const r = await asNobody(`
      const shmem = require(${root})
      const out = {}
      const tryIt = (key, fn) => { try { fn(); out[key] = 'opened' } catch (e) { out[key] = [e.code, e.syscall, e.message] } }
      tryIt('posix', () => shmem.open(${JSON.stringify(name)}))
      tryIt('posixRo', () => shmem.open(${JSON.stringify(name)}, { readOnly: true }).close())
      tryIt('openOrCreate', () => shmem.openOrCreate(${JSON.stringify(name)}, 4096))
      tryIt('file', () => shmem.mapFile(${JSON.stringify(file)}))
      tryIt('hidden', () => shmem.open(${JSON.stringify(secret)}))
      console.log(JSON.stringify(out))
    `)
    assert.equal(r.status, 0, r.err)
    const out = JSON.parse(r.out)
    const hint = / \(it is readable: open it with \{ readOnly: true \}\)$/
    for (const key of ['posix', 'openOrCreate', 'file']) {
      assert.equal(out[key][0], 'EACCES', key)
      assert.match(out[key][2], hint, key)
    }
    assert.equal(out.posix[1], 'shm_open')
    assert.equal(out.posixRo, 'opened')
    // Not readable either: no hint, the plain error.
    assert.equal(out.hidden[0], 'EACCES')
    assert.doesNotMatch(out.hidden[2], /readOnly/)
  } finally {
    seg.close()
    hidden.close()
  }
})
