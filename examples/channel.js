'use strict'
// A child process sends messages to its parent through a channel.
//   node examples/channel.js
const { fork } = require('child_process')
const { Channel, unlink } = require('..') // in your project: require('shmem')

if (process.argv[2] === 'child') {
  const channel = Channel.open(process.argv[3]) // the ring the parent made
  for (let i = 1; i <= 3; i++) channel.sendSync(`hello ${i}`)
  channel.sendSync('bye')
  channel.close()
} else {
  const name = `/channel-example-${process.pid}`
  const channel = Channel.create(name, { capacity: 64 * 1024, kind: 'mpsc' })
  fork(__filename, ['child', name])
  ;(async () => {
    try {
      for await (const message of channel) { // receiveAsync underneath: the loop stays free
        console.log(`parent got: ${message}`)
        if (message.toString() === 'bye') break
      }
    } finally {
      channel.close()
      unlink(name) // names live until unlinked
    }
  })()
}
