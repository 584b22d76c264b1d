'use strict'
// npm run stress [-- --rounds N] [-- --case name[,name]] [-- --json]
// Runs every stress case (or those named) for N rounds each (default: the case's own rounds,
// else 200) and prints a table
// per case: rounds, messages, lost, duplicated, hung, time to recover. Exits 1 when a case
// broke a promise (see check() in cases.js).

const os = require('os')
const { runCase } = require('./engine')
const { cases, check, formatTable } = require('./cases')

function args (argv) {
  const out = { rounds: null, cases: null, json: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--rounds') out.rounds = Number(argv[++i])
    else if (a.startsWith('--rounds=')) out.rounds = Number(a.slice(9))
    else if (a === '--case') out.cases = argv[++i].split(',')
    else if (a.startsWith('--case=')) out.cases = a.slice(7).split(',')
    else if (a === '--json') out.json = true
    else throw new Error(`unknown argument ${a}`)
  }
  if (out.rounds !== null && (!Number.isInteger(out.rounds) || out.rounds < 1)) throw new Error('--rounds: a positive integer')
  return out
}

async function main () {
  const opts = args(process.argv.slice(2))
  const chosen = opts.cases === null ? cases : opts.cases.map((n) => {
    const c = cases.find((x) => x.name === n)
    if (!c) throw new Error(`no case ${n}: one of ${cases.map((x) => x.name).join(', ')}`)
    return c
  })
  const t0 = performance.now()
  const reports = []
  let failed = 0
  for (const def of chosen) {
    const report = await runCase(def, { rounds: opts.rounds ?? def.rounds ?? 200 })
    const problems = check(report)
    report.problems = problems
    if (problems.length) failed++
    reports.push(report)
    process.stdout.write(formatTable([report], { header: reports.length === 1 }) + '\n')
    for (const p of problems) process.stdout.write(`  FAIL ${report.case}: ${p}\n`)
  }
  const wall = (performance.now() - t0) / 1000
  if (opts.json) process.stdout.write(JSON.stringify(reports, null, 2) + '\n')
  else {
    process.stdout.write('\n')
    for (const r of reports) {
      process.stdout.write(`${r.case}: ${JSON.stringify({ ...r, details: undefined, notes: undefined, stderr: undefined, hangs: undefined, error: undefined, problems: undefined })}\n`)
      if (Object.keys(r.notes).length) process.stdout.write(`  notes: ${JSON.stringify(r.notes)}\n`)
      if (r.details.length) process.stdout.write(`  first anomalies: ${JSON.stringify(r.details)}\n`)
      for (const h of r.hangs) process.stdout.write(`  hang: ${h}\n`)
      for (const e of r.stderr) process.stdout.write(`  stderr: ${e}\n`)
      if (r.error) process.stdout.write(`  error: ${r.error}\n`)
    }
  }
  const rounds = [...new Set(reports.map((r) => r.rounds))].join(' or ')
  process.stdout.write(`\n${chosen.length} cases x ${rounds} rounds in ${wall.toFixed(1)} s; ` +
    `${os.cpus().length} CPUs, Node ${process.version}\n`)
  process.exitCode = failed ? 1 : 0
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 2
})
