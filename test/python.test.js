'use strict'
// POSIX objects carry no header: Python's multiprocessing.shared_memory reads what this
// package wrote, and this package reads what Python wrote, byte for byte from offset 0.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync, spawn } = require('child_process')
const { shmem, uniqueName, trackPosix, cleanup } = require('./helpers')

after(cleanup)

const probe = spawnSync('python3', ['-c', 'import multiprocessing.shared_memory'], { encoding: 'utf8' })
const skip = probe.error || probe.status !== 0
  ? `python3 with multiprocessing.shared_memory is not available (${probe.error ? probe.error.code : probe.stderr.trim()})`
  : false
if (skip) console.log(`# skipping the Python interop tests: ${skip}`)

// Python's resource_tracker unlinks every segment a process attached when it exits
// (cpython#82300); unregistering keeps it from removing ours.
const UNTRACK = `
from multiprocessing import resource_tracker
def untrack(shm):
    resource_tracker.unregister(shm._name, 'shared_memory')
`

test('Python reads a segment written here', { skip }, () => {
  const name = trackPosix(uniqueName('py1'))
  const seg = shmem.create(name, 4096)
  seg.buffer.write('written by node', 0)
  seg.view(Uint32Array, 64, 1)[0] = 0xdeadbeef
  const py = spawnSync('python3', ['-c', `${UNTRACK}
from multiprocessing import shared_memory
import struct, sys
shm = shared_memory.SharedMemory(name=sys.argv[1], create=False)
untrack(shm)
print(shm.size)
print(bytes(shm.buf[0:15]).decode())
print(hex(struct.unpack_from('<I', shm.buf, 64)[0]))
shm.buf[100:117] = b'written by python'
shm.close()
`, name.slice(1)], { encoding: 'utf8' })
  assert.equal(py.status, 0, py.stderr)
  assert.deepEqual(py.stdout.trim().split('\n'), ['4096', 'written by node', '0xdeadbeef'])
  assert.equal(seg.buffer.toString('utf8', 100, 117), 'written by python')
  assert.ok(require('fs').existsSync(`/dev/shm${name}`), 'Python left the segment in place')
  seg.close()
  seg.unlink()
})

test('a segment Python created is read here, and Python sees what was written here', { skip }, async () => {
  const name = trackPosix(uniqueName('py2'))
  // Python creates, writes, then waits on stdin while this process reads and writes.
  const py = spawn('python3', ['-c', `
from multiprocessing import shared_memory
import sys
shm = shared_memory.SharedMemory(name=sys.argv[1], create=True, size=10000)
shm.buf[0:17] = b'written by python'
shm.buf[9999] = 42
print('ready', flush=True)
sys.stdin.readline()
print(bytes(shm.buf[5000:5015]).decode(), flush=True)
shm.close()
shm.unlink()
`, name.slice(1)], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  py.stdout.setEncoding('utf8')
  await new Promise((resolve, reject) => {
    py.stdout.on('data', (d) => { out += d; if (out.includes('ready\n')) resolve() })
    py.on('exit', (code) => reject(new Error(`python exited early with ${code}`)))
  })
  const seg = shmem.open(name)
  assert.equal(seg.size, 10000)
  assert.equal(seg.buffer.toString('utf8', 0, 17), 'written by python')
  assert.equal(seg.buffer[9999], 42)
  seg.buffer.write('written by node', 5000)
  const code = await new Promise((resolve) => {
    py.removeAllListeners('exit')
    py.on('close', resolve)
    py.stdin.end('go\n')
  })
  assert.equal(code, 0)
  assert.equal(out.split('\n')[1], 'written by node')
  seg.close()
  assert.equal(shmem.unlink(name), false, 'Python unlinked its own segment')
})

// The caveat the README states, and its two fixes, in both directions. Python 3.13 added
// SharedMemory(track=False); before it, the fix is resource_tracker.unregister().
// The first interpreter on PATH with track=False (Python 3.13 or later), for that fix.
function versionOf (exe) {
  const r = spawnSync(exe, ['-c', 'import sys; print(sys.version_info[0] * 100 + sys.version_info[1])'], { encoding: 'utf8' })
  return r.status === 0 ? Number(r.stdout.trim()) : 0
}
// pyenv's versions count too (its shims run only the selected one).
function pyenvPythons () {
  const root = process.env.PYENV_ROOT || require('path').join(require('os').homedir(), '.pyenv')
  try {
    return require('fs').readdirSync(require('path').join(root, 'versions'))
      .map((v) => require('path').join(root, 'versions', v, 'bin', 'python3'))
  } catch {
    return []
  }
}
const python313 = skip
  ? null
  : ['python3', 'python3.13', 'python3.14', ...pyenvPythons()].find((exe) => versionOf(exe) >= 313)
const noTrackFalse = skip || (python313 ? false : 'track=False needs Python 3.13 or later, and none was found (PATH, pyenv)')
const FIXES = {
  none: { skip, exe: 'python3', open: 'shm = shared_memory.SharedMemory(name=name, create=create, size=size)' },
  unregister: {
    skip,
    exe: 'python3',
    open: 'shm = shared_memory.SharedMemory(name=name, create=create, size=size)\n' +
      "resource_tracker.unregister(shm._name, 'shared_memory')"
  },
  'track=False': {
    skip: noTrackFalse,
    exe: python313,
    open: 'shm = shared_memory.SharedMemory(name=name, create=create, size=size, track=False)'
  }
}

// Runs Python on the segment `name`: it opens (or creates) it as the fix says, writes a
// marker, closes it and exits. The resource tracker acts after Python's exit, in its own
// process: waitGone() gives it time.
function python (fix, name, create) {
  const code = `
import sys
from multiprocessing import shared_memory, resource_tracker
name, create, size = sys.argv[1], sys.argv[2] == 'create', 4096
${FIXES[fix].open}
shm.buf[0:6] = b'python'
shm.close()
`
  const py = spawnSync(FIXES[fix].exe, ['-c', code, name.slice(1), create ? 'create' : 'open'], { encoding: 'utf8' })
  assert.equal(py.status, 0, py.stderr)
}

async function presentAfterTracker (name) {
  // The tracker unlinks within milliseconds of Python's exit when it does; wait well past that.
  const until = Date.now() + 1000
  while (Date.now() < until) {
    if (!require('fs').existsSync(`/dev/shm${name}`)) return false
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return true
}

test('caveat: a Python that only opens a segment unlinks it when it exits', { skip }, async () => {
  const name = trackPosix(uniqueName('pyc'))
  const seg = shmem.create(name, 4096)
  python('none', name, false)
  assert.equal(seg.buffer.toString('utf8', 0, 6), 'python')
  assert.equal(await presentAfterTracker(name), false, 'the resource tracker removed it')
  seg.close()
})

for (const fix of ['unregister', 'track=False']) {
  test(`fix ${fix}: Node creates, Python opens and exits, the segment stays`, { skip: FIXES[fix].skip }, async () => {
    const name = trackPosix(uniqueName('pyf'))
    const seg = shmem.create(name, 4096)
    python(fix, name, false)
    assert.equal(seg.buffer.toString('utf8', 0, 6), 'python')
    assert.equal(await presentAfterTracker(name), true)
    seg.close()
    assert.equal(shmem.unlink(name), true)
  })

  test(`fix ${fix}: Python creates and exits, Node opens it after`, { skip: FIXES[fix].skip }, async () => {
    const name = trackPosix(uniqueName('pyg'))
    python(fix, name, true)
    assert.equal(await presentAfterTracker(name), true)
    const seg = shmem.open(name)
    assert.equal(seg.buffer.toString('utf8', 0, 6), 'python')
    seg.close()
    assert.equal(shmem.unlink(name), true)
  })
}
