'use strict'
// examples/python.js: Node and Python share one POSIX segment, byte for byte.
//   node examples/python.js        (needs python3 on PATH)
// Python's SharedMemory registers every segment it attaches with its resource tracker, which
// unlinks it when Python exits, even one Python only opened. The Python side below opts out:
// track=False on Python 3.13 and later, resource_tracker.unregister() before that.
const { spawnSync } = require('child_process')
const shmem = require('..') // in your project: require('shmem')

const PYTHON = `
import sys
from multiprocessing import shared_memory, resource_tracker
name = sys.argv[1]
if sys.version_info >= (3, 13):
    shm = shared_memory.SharedMemory(name=name, track=False)
else:
    shm = shared_memory.SharedMemory(name=name)
    resource_tracker.unregister(shm._name, 'shared_memory')
print('python read:', bytes(shm.buf[0:15]).decode())
shm.buf[100:117] = b'written by python'
shm.close()
`

const name = `/python-example-${process.pid}`
const segment = shmem.create(name, 4096, { autoUnlink: true })
try {
  segment.buffer.write('written by node')
  // Python names POSIX objects without the leading slash.
  const py = spawnSync('python3', ['-c', PYTHON, name.slice(1)], { encoding: 'utf8' })
  if (py.error) throw py.error
  process.stdout.write(py.stdout)
  if (py.status !== 0) throw new Error(`python3 failed: ${py.stderr}`)
  console.log('node read:', segment.buffer.toString('utf8', 100, 117))
  console.log('still there after Python exited:', shmem.list().some((s) => s.name === name))
} finally {
  segment.close() // autoUnlink: removes the name
}
