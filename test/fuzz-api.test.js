'use strict'
// The API fuzzer (test/fuzz/api-fuzz.js) for a bounded count: hostile values to every public
// function, parsers fed random text, garbage in lock and channel words, workers terminated
// mid-call. Each seed runs in a child process: a crash is an exit by signal, a hang the
// watchdog. Every thrown error must have a string code. A failure prints its seed; replay it
// with `node test/fuzz/api-fuzz.js '{"seed":N,"calls":C}'`. `npm run fuzz` runs it longer.
const test = require('node:test')
const assert = require('node:assert')
const fs = require('fs')
const path = require('path')
const { spawnSync } = require('child_process')

const ENGINE = path.join(__dirname, 'fuzz', 'api-fuzz.js')
const CALLS = Number(process.env.SHMEM_FUZZ_CALLS) || 2500
const SEEDS = (process.env.SHMEM_FUZZ_SEEDS || '1,2,3').split(',').map(Number)
const WATCHDOG_MS = 60000

const { KNOWN } = require('./fuzz/known-findings.js')

// What a run left in /dev/shm under its pid, removed (so that a failure leaves nothing either).
function leftBy (pid) {
  const left = fs.readdirSync('/dev/shm').filter((n) => n.includes(`-${pid}-`))
  for (const n of left) fs.rmSync(path.join('/dev/shm', n), { force: true })
  return left
}

function runSeed (seed) {
  const r = spawnSync(process.execPath, [ENGINE, JSON.stringify({ seed, calls: CALLS, workers: 4 })],
    { encoding: 'utf8', timeout: WATCHDOG_MS, killSignal: 'SIGKILL' })
  const lines = r.stdout.trim().split('\n').filter(Boolean).map((l) => {
    try { return JSON.parse(l) } catch { return { raw: l } }
  })
  return { r, lines }
}

for (const seed of SEEDS) {
  test(`API fuzzer, seed ${seed}: ${CALLS} calls, no crash, no hang, every error coded`, () => {
    const { r, lines } = runSeed(seed)
    const left = leftBy(r.pid) // first: a failed assertion below must not leave them
    const replay = `replay: node test/fuzz/api-fuzz.js '{"seed":${seed},"calls":${CALLS}}'`
    assert.notStrictEqual(r.error && r.error.code, 'ETIMEDOUT', `hang (watchdog ${WATCHDOG_MS} ms); ${replay}`)
    assert.strictEqual(r.signal, null, `crashed by ${r.signal}; ${replay}\n${r.stderr.slice(-2000)}`)
    assert.strictEqual(r.status, 0,
      `exit ${r.status}; ${replay}\n${r.stderr.slice(-2000)}\n${r.stdout.slice(-2000)}`)
    const done = lines.find((l) => l.done)
    assert.ok(done, `no summary; ${replay}\n${r.stdout.slice(-2000)}`)
    const unknown = lines.filter((l) => l.finding && !KNOWN.some((k) => k.match(l.finding)))
    assert.deepStrictEqual(unknown.map((l) => l.finding), [], replay)
    assert.deepStrictEqual(left, [], 'names the run left in /dev/shm')
  })
}
