'use strict'
// Two processes share one segment, and each prints what the other wrote.
//   node examples/quickstart.js
const { fork } = require('child_process')
const shmem = require('..') // in your project: require('shmem')

const name = `/quickstart-${process.argv[2] === 'child' ? process.argv[3] : process.pid}`

if (process.argv[2] !== 'child') {
  // The parent creates a 4 KiB POSIX segment, writes into it and starts a child.
  const segment = shmem.create(name, 4096)
  segment.buffer.write('hello from the parent')
  const child = fork(__filename, ['child', String(process.pid)])
  child.on('exit', (code) => {
    // The child has written into the same memory: no copy, no message.
    console.log(`parent read: ${segment.buffer.toString('utf8', 2048, 2048 + 20)}`)
    segment.close()
    segment.unlink() // the name lives until someone unlinks it
    process.exitCode = code
  })
} else {
  const segment = shmem.open(name)
  console.log(`child read:  ${segment.buffer.toString('utf8', 0, 21)}`)
  segment.buffer.write('hello from the child', 2048)
  segment.close()
}
