'use strict'
// The other process of test/bun/smoke.test.js (run by the same runtime as the test).
//   segment <name>              prints the string at byte 100, writes 'peer!' at 200
//   echo <requests> <replies> n answers n 'ping i' with 'pong i'
//   hold <name>                 locks the Mutex at offset 0, prints 'held', unlocks at stdin's end
//   wait <name>                 waits on word 0 while it is 0; prints the result
const shmem = require('../..')

const [what, ...args] = process.argv.slice(2)
if (what === 'segment') {
  const seg = shmem.open(args[0])
  console.log(seg.buffer.toString('utf8', 100, 108))
  seg.buffer.write('peer!', 200)
  seg.close()
} else if (what === 'echo') {
  const req = shmem.Channel.open(args[0])
  const rep = shmem.Channel.open(args[1])
  for (let i = 0; i < Number(args[2]); i++) {
    const msg = req.receiveSync({ timeout: 10000 })
    if (msg === null || msg.toString() !== `ping ${i}`) throw new Error(`got ${msg} at ${i}`)
    if (rep.sendSync(`pong ${i}`, { timeout: 10000 }) !== 'ok') throw new Error('send timed out')
  }
  req.close()
  rep.close()
} else if (what === 'hold') {
  const seg = shmem.open(args[0])
  const m = shmem.Mutex.attach(seg, 0)
  if (m.lock({ timeout: 10000 }) === false) throw new Error('could not lock')
  console.log('held')
  process.stdin.resume()
  process.stdin.on('end', () => {
    m.unlock()
    seg.close()
  })
} else if (what === 'wait') {
  const seg = shmem.open(args[0])
  console.log(shmem.wait(seg.view(Int32Array, 0, 1), 0, 0, 10000))
  seg.close()
} else {
  throw new Error(`unknown role ${what}`)
}
