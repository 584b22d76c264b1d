'use strict'
// The create case's prober: opens what a killed (or stopped) creator left, runs shmem.gc()
// and says whether a name is still there. It runs in a process of its own, so that an open
// that never returned would hang the prober, which the engine's watchdog sees, and not the
// engine. Requests and answers are JSON lines on stdin and stdout.

const readline = require('readline')
const shmem = require('../..')

function open ({ name, kind }) {
  const t0 = performance.now()
  let result
  try {
    const made = kind === 1 ? shmem.Channel.open(name) : shmem.open(name)
    made.close()
    result = 'opened'
  } catch (err) {
    result = err && typeof err.code === 'string' ? err.code : `no code: ${err && err.message}`
  }
  return { result, ms: performance.now() - t0 }
}

function exists ({ name }) {
  try {
    shmem.open(name).close()
    return { exists: true }
  } catch (err) {
    return { exists: err.code !== 'ENOENT', code: err.code }
  }
}

const ops = {
  open,
  exists,
  gc: () => ({ removed: shmem.gc().filter((e) => e.removed).map((e) => e.name) })
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const req = JSON.parse(line)
  let reply
  try {
    reply = ops[req.op](req)
  } catch (err) {
    reply = { error: String(err && err.stack) }
  }
  process.stdout.write(JSON.stringify({ seq: req.seq, ...reply }) + '\n')
})
