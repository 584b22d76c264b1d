#!/usr/bin/env node
'use strict'
// npm run fuzz [-- seconds] [--c-only | --js-only] [target ...]
//
// Builds every libFuzzer target of test/fuzz/ (make fuzz-build: clang, ASan + UBSan) and runs
// each for `seconds` (default 60) on its checked-in seeds (test/fuzz/corpus/<target>/) plus a
// working corpus in out/fuzz/work/<target>/, then runs the API fuzzer (test/fuzz/api-fuzz.js)
// for as long again, seed after seed. Prints each target's executions, exec/s and coverage;
// exits non-zero on any crash, timeout or finding. Crash inputs land in test/fuzz/crashes/
// (not committed; a fixed one becomes a regress-* seed). docs/fuzzing.md has the details.
const { spawnSync, spawn } = require('child_process')
const fs = require('fs')
const path = require('path')

const root = path.join(__dirname, '..')
const args = process.argv.slice(2)
const seconds = Number(args.find((a) => /^\d+$/.test(a)) || 60)
const cOnly = args.includes('--c-only')
const jsOnly = args.includes('--js-only')
const only = args.filter((a) => /^fuzz_/.test(a))

function sh (cmd, argv, options = {}) {
  return spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', ...options })
}

function runTarget (name) {
  const bin = path.join(root, 'out', 'fuzz', name)
  const work = path.join(root, 'out', 'fuzz', 'work', name)
  const seeds = path.join(root, 'test', 'fuzz', 'corpus', name)
  const crashes = path.join(root, 'test', 'fuzz', 'crashes')
  fs.mkdirSync(work, { recursive: true })
  fs.mkdirSync(crashes, { recursive: true })
  const argv = [`-max_total_time=${seconds}`, '-timeout=10', '-max_len=8192', '-print_final_stats=1',
    `-artifact_prefix=${crashes}/${name}-`, work]
  if (fs.existsSync(seeds)) argv.push(seeds)
  return new Promise((resolve) => {
    const child = spawn(bin, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let log = ''
    const keep = (d) => { log = (log + d).slice(-200000) }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    child.on('close', (code, signal) => {
      fs.writeFileSync(path.join(root, 'out', 'fuzz', `${name}.log`), log)
      const done = /#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)\/\S+.*exec\/s: (\d+)/.exec(log)
      const execs = /stat::number_of_executed_units:\s*(\d+)/.exec(log)
      resolve({
        name,
        ok: code === 0 && signal === null,
        code,
        signal,
        execs: execs ? Number(execs[1]) : done ? Number(done[1]) : 0,
        cov: done ? Number(done[2]) : null,
        ft: done ? Number(done[3]) : null,
        corpus: done ? Number(done[4]) : null,
        execPerSec: done ? Number(done[5]) : null,
        artifact: (/Test unit written to (\S+)/.exec(log) || [])[1] || null,
        error: (/(ERROR: .*|SUMMARY: .*|Assertion .*)/.exec(log) || [])[1] || null
      })
    })
  })
}

function runApiFuzzer (budgetMs) {
  const engine = path.join(root, 'test', 'fuzz', 'api-fuzz.js')
  const { KNOWN } = require(path.join(root, 'test', 'fuzz', 'known-findings.js'))
  const until = Date.now() + budgetMs
  let seed = (Date.now() % 100000) + 1000
  const totals = { runs: 0, calls: 0, findings: 0, known: 0, failures: [] }
  while (Date.now() < until) {
    const r = spawnSync(process.execPath, [engine, JSON.stringify({ seed, calls: 10000, workers: 10 })],
      { encoding: 'utf8', timeout: 120000, killSignal: 'SIGKILL' })
    const lines = r.stdout.trim().split('\n').filter(Boolean).map((l) => {
      try { return JSON.parse(l) } catch { return {} }
    })
    totals.runs++
    const done = lines.find((l) => l.done)
    if (done) totals.calls += done.calls
    const replay = `node test/fuzz/api-fuzz.js '{"seed":${seed},"calls":10000,"workers":10}'`
    if (r.error && r.error.code === 'ETIMEDOUT') totals.failures.push(`hang: ${replay}`)
    else if (r.signal) totals.failures.push(`crash (${r.signal}): ${replay}`)
    else if (r.status !== 0) totals.failures.push(`exit ${r.status}: ${replay}\n${r.stdout.slice(-800)}`)
    for (const l of lines) {
      if (!l.finding) continue
      if (KNOWN.some((k) => k.match(l.finding))) totals.known++
      else {
        totals.findings++
        totals.failures.push(`finding: ${JSON.stringify(l.finding)}\n  ${replay}`)
      }
    }
    seed++
  }
  return totals
}

async function main () {
  let failed = false
  if (!jsOnly) {
    const cc = process.env.FUZZ_CC || 'clang'
    if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) {
      console.error(`fuzz: ${cc} not found: the C targets need clang with libFuzzer`)
      process.exit(1)
    }
    if (sh('make', ['-s', 'fuzz-build']).status !== 0) process.exit(1)
    const targets = fs.readdirSync(path.join(root, 'test', 'fuzz'))
      .filter((f) => /^fuzz_.*\.c$/.test(f)).map((f) => f.slice(0, -2))
      .filter((t) => only.length === 0 || only.includes(t))
    console.log(`fuzz: ${targets.length} C targets, ${seconds} s each`)
    for (const t of targets) {
      const r = await runTarget(t)
      console.log(`fuzz: ${t}: ${r.ok ? 'ok' : 'FAILED'}  ${r.execs} execs, ${r.execPerSec} exec/s, ` +
        `cov ${r.cov}, ft ${r.ft}, corpus ${r.corpus}` +
        (r.ok ? '' : `\n  ${r.error}\n  input: ${r.artifact}\n  log: out/fuzz/${t}.log`))
      if (!r.ok) failed = true
    }
  }
  if (!cOnly) {
    const t = runApiFuzzer(seconds * 1000)
    console.log(`fuzz: API fuzzer: ${t.runs} runs, ${t.calls} calls, ${t.findings} new findings, ` +
      `${t.known} known (test/fuzz/known-findings.js)`)
    for (const f of t.failures) console.log(`  ${f}`)
    if (t.failures.length > 0) failed = true
  }
  process.exit(failed ? 1 : 0)
}

main()
