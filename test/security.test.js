'use strict'
// What docs/security.md promises about names and files another user can plant: mapFile()
// never follows a symlink nor adopts another user's file, and a segment mapped from an fd
// whose object was unlinked has no name to unlink.

const test = require('node:test')
const assert = require('assert')
const fs = require('fs')
const path = require('path')
const { spawnSync } = require('child_process')
const { shmem, uniqueName, trackPosix, tempDir } = require('./helpers')

const NOBODY = 65534
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0

// A directory like /tmp: world-writable and sticky, so that another user can plant files in
// it but not remove ours.
function stickyDir () {
  const dir = tempDir()
  fs.chmodSync(dir, 0o1777)
  return dir
}

// Runs fs calls as user nobody in a child process (a real other user, as an attacker is).
function asNobody (code) {
  const r = spawnSync(process.execPath, ['-e', `const fs = require('fs'); ${code}`], {
    uid: NOBODY, gid: NOBODY, encoding: 'utf8'
  })
  assert.equal(r.status, 0, `the child as nobody failed: ${r.stderr}`)
}

test('mapFile({ create }) refuses a symlink planted by another user in a sticky directory',
  { skip: !isRoot && 'needs root, to act as another user (uid 65534) and be the victim' },
  () => {
    const dir = stickyDir()
    // The victim: a root-only file elsewhere, which the link points at.
    const secret = path.join(tempDir(), 'secret')
    fs.writeFileSync(secret, 'root only', { mode: 0o600 })
    const link = path.join(dir, 'data.bin')
    asNobody(`fs.symlinkSync(${JSON.stringify(secret)}, ${JSON.stringify(link)})`)
    assert.equal(fs.lstatSync(link).uid, NOBODY)

    assert.throws(() => shmem.mapFile(link, { create: true, size: 1 << 20 }),
      { code: 'ELOOP', syscall: 'open', path: link })
    // Without create too: the last component is never followed.
    assert.throws(() => shmem.mapFile(link), { code: 'ELOOP', syscall: 'open' })
    assert.throws(() => shmem.mapFile(link, { readOnly: true }), { code: 'ELOOP' })
    assert.equal(fs.statSync(secret).size, 9, 'the target was not extended')
    assert.equal(fs.readFileSync(secret, 'utf8'), 'root only')
    assert.equal(fs.lstatSync(link).isSymbolicLink(), true, 'the link is left as it was')
  })

test('mapFile({ create }) does not adopt a file another user pre-created',
  { skip: !isRoot && 'needs root, to act as another user (uid 65534)' }, () => {
    const dir = stickyDir()
    const file = path.join(dir, 'data.bin')
    asNobody(`fs.writeFileSync(${JSON.stringify(file)}, 'planted', { mode: 0o666 })`)
    assert.throws(() => shmem.mapFile(file, { create: true, size: 1 << 20 }),
      { code: 'EPERM', syscall: 'open', path: file })
    assert.equal(fs.statSync(file).size, 7, 'the planted file was not extended')
    // Without create it is an ordinary file the caller chose to map: allowed.
    const seg = shmem.mapFile(file, { readOnly: true })
    assert.equal(seg.buffer.toString(), 'planted')
    seg.close()
  })

test('mapFile({ create }) adopts and extends a regular file of its own user', () => {
  const file = path.join(tempDir(), 'own.bin')
  fs.writeFileSync(file, 'mine')
  const seg = shmem.mapFile(file, { create: true, size: 8192 })
  assert.equal(seg.created, false)
  assert.equal(seg.buffer.subarray(0, 4).toString(), 'mine')
  seg.close()
  assert.equal(fs.statSync(file).size, 8192)
  // A symlink of its own is refused all the same (ELOOP): open it with fs, then fromFd().
  const link = path.join(path.dirname(file), 'link')
  fs.symlinkSync(file, link)
  assert.throws(() => shmem.mapFile(link, { create: true, size: 8192 }), { code: 'ELOOP' })
  const fd = fs.openSync(link, 'r+')
  const viaFd = shmem.fromFd(fd)
  fs.closeSync(fd)
  assert.equal(viaFd.buffer.subarray(0, 4).toString(), 'mine')
  viaFd.close()
})

test('mapFile({ create }) refuses a FIFO or a directory under the name, without hanging', () => {
  const dir = tempDir()
  const fifo = path.join(dir, 'fifo')
  const r = spawnSync('mkfifo', [fifo])
  if (r.status !== 0) return
  assert.throws(() => shmem.mapFile(fifo, { create: true, size: 4096 }), { code: 'ENODEV' })
  assert.throws(() => shmem.mapFile(dir, { create: true, size: 4096 }), { code: 'EISDIR' })
})

test('fromFd() of an unlinked POSIX object: no name, and unlink() removes nothing else', () => {
  const name = trackPosix(uniqueName('del'))
  const decoy = trackPosix(`${name} (deleted)`)
  const a = shmem.create(name, 4096)
  const fd = fs.openSync(`/dev/shm${name}`, 'r+')
  a.unlink()
  a.close()
  // An unrelated object that bears the very name /proc shows for the unlinked one.
  const other = shmem.create(decoy, 4096)
  other.buffer.write('decoy')
  const seg = shmem.fromFd(fd)
  fs.closeSync(fd)
  assert.equal(seg.kind, 'posix')
  assert.equal(seg.name, null)
  assert.equal(seg.unlink(), false)
  const still = shmem.open(decoy)
  assert.equal(still.buffer.subarray(0, 5).toString(), 'decoy', 'the decoy is still there')
  // The decoy itself, a live object, keeps its name through fromFd().
  const viaFd = shmem.fromFd(other.fd)
  assert.equal(viaFd.name, decoy)
  for (const s of [seg, still, viaFd, other]) s.close()
  assert.equal(shmem.unlink(decoy), true)
})
