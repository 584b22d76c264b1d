'use strict'
// examples/lifecycle.js: nothing leaks, even when a process is killed.
//   node examples/lifecycle.js
// A child creates a segment with { autoUnlink: true } and is killed with SIGKILL before it can
// remove it; shmem.gc() then removes that segment (its creator is dead), and only that one.
const { fork } = require('child_process')
const shmem = require('..') // in your project: require('shmem')

if (process.argv[2] === 'child') {
  shmem.create(process.argv[3], 4096, { autoUnlink: true }) // this process owns the name
  process.send('created')
  setInterval(() => {}, 1000) // wait to be killed
} else {
  const name = `/lifecycle-example-${process.pid}`
  // A segment this process owns: removed when it is closed, or at exit, or on SIGINT/SIGTERM.
  const mine = shmem.create(`${name}-mine`, 4096, { autoUnlink: true })
  const child = fork(__filename, ['child', name])
  child.once('message', () => {
    child.kill('SIGKILL') // no exit hook runs: the name is left behind
    child.once('exit', () => {
      console.log('left behind:', shmem.list().some((s) => s.name === name)) // true
      const removed = shmem.gc() // removes what dead creators left, nothing else
      console.log('gc removed it:', removed.some((s) => s.name === name)) // true
      console.log('ours is still there:', shmem.list().some((s) => s.name === `${name}-mine`))
      mine.close() // removes `${name}-mine` as well: this process created it
    })
  })
}
