'use strict'
// examples/counter.js: 4 processes add to one counter under a Mutex
const shmem = require('..') // in your project: require('shmem')
const { fork } = require('child_process')

if (process.argv[2] === 'child') {
  const seg = shmem.open(process.argv[3])
  const mutex = shmem.Mutex.attach(seg, 0)
  const counter = seg.view(Float64Array, 64, 1)
  for (let i = 0; i < 100000; i++) {
    mutex.withLockSync(() => { counter[0] += 1 })
  }
  seg.close()
} else {
  const name = `/counter-example-${process.pid}`
  const seg = shmem.create(name, 4096)
  shmem.Mutex.init(seg, 0)
  let running = 4
  for (let c = 0; c < 4; c++) {
    fork(__filename, ['child', name]).on('exit', () => {
      if (--running > 0) return
      console.log('total:', seg.view(Float64Array, 64, 1)[0]) // total: 400000
      seg.close()
      shmem.unlink(name)
    })
  }
}
