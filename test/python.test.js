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
