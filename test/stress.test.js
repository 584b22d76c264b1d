'use strict'
// Crash injection, short: every stress case (test/stress/cases/) for 10 rounds, each round a
// worker process killed with SIGKILL or stopped with SIGSTOP at a random point or inside a
// window (a reservation, a peek, a held lock, a create). `npm run stress` runs the same cases
// for 200 rounds each; docs/reliability.md has the figures. Asserts what shmem promises:
// nothing duplicated and nothing hung, and per case the rest of check() in
// test/stress/cases.js (no torn, reordered or invented message, no lock held twice, every
// lost message explained by a receiver killed while taking it, every open of a killed
// create answered with a coded error).

const test = require('node:test')
const assert = require('node:assert')
const { runCase } = require('./stress/engine')
const { cases, check, formatTable } = require('./stress/cases')

const ROUNDS = Number(process.env.SHMEM_STRESS_ROUNDS) || 10

for (const def of cases) {
  test(`stress: ${def.name}, ${ROUNDS} rounds of kill -9 / SIGSTOP`, { timeout: 120000 }, async (t) => {
    const report = await runCase(def, { rounds: ROUNDS })
    for (const line of formatTable([report]).split('\n')) t.diagnostic(line)
    t.diagnostic(JSON.stringify({ notes: report.notes, details: report.details }))
    assert.strictEqual(report.error, null, report.error)
    assert.strictEqual(report.duplicated, 0, `duplicated: ${JSON.stringify(report.details)}`)
    assert.strictEqual(report.hung, 0, `hung: ${report.hangs.join(' | ')}`)
    assert.deepStrictEqual(check(report), [])
  })
}
