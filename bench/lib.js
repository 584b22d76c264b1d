'use strict'
// Shared by the benchmarks: timing, medians, the machine's description, an aligned table,
// unique segment names, a sweep of what a run left in /dev/shm, and building the C helpers.
// bench/run.js does not run this file.

const { execFileSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')

/** Nanoseconds from an arbitrary start, as a BigInt. */
const now = () => process.hrtime.bigint()

/** Runs fn(iterations) once and returns the nanoseconds it took per iteration. */
function timePerOp (fn, iterations) {
  const start = now()
  fn(iterations)
  return Number(now() - start) / iterations
}

/** The median of an array of numbers (the mean of the middle two for an even count). */
function median (values) {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** '35.2 ns' under a microsecond, '14.1 us' above. */
function formatNs (ns) {
  if (!Number.isFinite(ns)) return 'n/a'
  if (ns < 1000) return `${ns.toFixed(ns < 100 ? 1 : 0)} ns`
  const us = ns / 1000
  if (us < 100) return `${us.toFixed(2)} us`
  if (us < 10000) return `${us.toFixed(1)} us`
  return `${us.toFixed(0)} us`
}

function formatRatio (ratio) {
  if (!Number.isFinite(ratio)) return 'n/a'
  return `${ratio < 10 ? ratio.toFixed(2) : ratio.toFixed(1)}x`
}

/** '4 KiB', '64 MiB', '1 GiB'. */
function formatSize (bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (bytes >= 1024 && bytes % 1024 === 0 && i < units.length - 1) {
    bytes /= 1024
    i++
  }
  return `${bytes} ${units[i]}`
}

/**
 * An aligned text table. columns: [{ title, align: 'left' | 'right' }]; rows: arrays of
 * strings, or null for a separator line.
 */
function formatTable (columns, rows) {
  const widths = columns.map((c, i) =>
    Math.max(c.title.length, ...rows.filter(Boolean).map((r) => String(r[i]).length)))
  const line = (cells) => cells.map((cell, i) => {
    const text = String(cell)
    return columns[i].align === 'right' ? text.padStart(widths[i]) : text.padEnd(widths[i])
  }).join('  ').trimEnd()
  const rule = widths.map((w) => '-'.repeat(w)).join('  ')
  const out = [line(columns.map((c) => c.title)), rule]
  for (const row of rows) out.push(row === null ? rule : line(row))
  return out.join('\n')
}

/** What the numbers were measured on. */
function machine () {
  const cpus = os.cpus()
  return {
    cpu: cpus.length ? cpus[0].model.trim() : 'unknown',
    cpus: cpus.length,
    memory: os.totalmem(),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    arch: process.arch
  }
}

function formatMachine (m = machine()) {
  const gib = (m.memory / 2 ** 30).toFixed(1)
  return `machine: ${m.cpu}, ${m.cpus} CPUs, ${gib} GiB RAM, Node ${m.node}, ` +
    `${m.kernel} (${m.arch})`
}

/** --json, --quick and the rest of argv. */
function parseArgs (argv = process.argv.slice(2)) {
  return {
    json: argv.includes('--json'),
    quick: argv.includes('--quick'),
    rest: argv.filter((a) => a !== '--json' && a !== '--quick')
  }
}

// Every name a benchmark makes starts with this process's prefix, so a sweep at the end can
// find anything a failure left behind, and no two runs or processes share a name.
const NAME_PREFIX = `shmem-bench-${process.pid}-`
let namePrefix = NAME_PREFIX
let nameCounter = 0

/** '/shmem-bench-<pid>-<tag><n>': unique in this process and across processes. */
function uniqueName (tag = '') {
  return `/${namePrefix}${tag}${++nameCounter}`
}

/**
 * Makes uniqueName() use a prefix the parent chose (its own NAME_PREFIX plus a tag no other
 * child has), so the parent's sweep also finds what a child left.
 */
function setNamePrefix (prefix) {
  if (!/^shmem-bench-[A-Za-z0-9_-]+$/.test(prefix)) throw new Error(`bad name prefix ${prefix}`)
  namePrefix = prefix
}

const SHM_DIR = '/dev/shm'

/** The names in /dev/shm now (an empty list where there is no /dev/shm, as on macOS). */
function listShm () {
  try {
    return fs.readdirSync(SHM_DIR)
  } catch {
    return []
  }
}

/**
 * Removes whatever this process's names left in /dev/shm (a contender that threw halfway, a C
 * helper that was killed) and returns the names it removed: after a clean run, none.
 */
function sweepShm (prefix = NAME_PREFIX) {
  const left = listShm().filter((n) => n.startsWith(prefix))
  for (const name of left) {
    try { fs.unlinkSync(path.join(SHM_DIR, name)) } catch {}
  }
  return left
}

let tempDir = null

function removeTempDir () {
  if (tempDir !== null) fs.rmSync(tempDir, { recursive: true, force: true })
  tempDir = null
}

/**
 * Compiles a C helper from bench/c/ with `cc -O2` into a temporary directory that is removed
 * when the process exits, and returns the executable's path.
 */
function compileC (file, extraFlags = []) {
  if (tempDir === null) {
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmem-bench-'))
    process.on('exit', removeTempDir)
  }
  const source = path.resolve(__dirname, 'c', file)
  const out = path.join(tempDir, path.basename(file, '.c'))
  // glibc before 2.34 keeps shm_open in librt; on macOS it is in libc and there is no librt.
  const libs = process.platform === 'linux' ? ['-lrt'] : []
  try {
    execFileSync(process.env.CC || 'cc',
      ['-O2', '-std=gnu11', '-Wall', '-Wextra', ...extraFlags, '-o', out, source, ...libs],
      { stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    const detail = err.stderr ? String(err.stderr).trim() : err.message
    throw new Error(`bench: could not compile ${path.relative(process.cwd(), source)} ` +
      `(needs a C compiler as cc or $CC):\n${detail}`)
  }
  return out
}

/**
 * Runs a full garbage collection when the runtime allows it. Benchmarks call it between
 * contenders (never inside a timed loop), so one contender's garbage is not collected on
 * the next one's clock.
 */
const collectGarbage = (() => {
  if (typeof global.gc === 'function') return global.gc
  try {
    require('v8').setFlagsFromString('--expose-gc')
    const gc = require('vm').runInNewContext('gc')
    if (typeof gc === 'function') return gc
  } catch {}
  return () => {}
})()

/**
 * Records V8's garbage collections (perf_hooks 'gc' entries), so a benchmark can say how many
 * happened inside a timed stretch. Entries arrive a little after the collection: call
 * settle() before count().
 */
function gcRecorder () {
  const { PerformanceObserver, performance } = require('perf_hooks')
  const starts = []
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) starts.push(entry.startTime)
  })
  observer.observe({ entryTypes: ['gc'] })
  return {
    /** A timestamp on the clock the entries use. */
    mark: () => performance.now(),
    settle: () => new Promise((resolve) => setTimeout(resolve, 20)),
    /** Collections that started in [from, to]. */
    count: (from, to) => starts.filter((t) => t >= from && t <= to).length,
    stop: () => observer.disconnect()
  }
}

/**
 * The goals of a benchmark: verdict(ok, ...refs) gives 'PASS' or 'MISS' and counts it, or
 * 'n/a' (not counted) when a reference it compares with did not run; summary() says how many
 * were met.
 */
function goals () {
  const verdicts = []
  return {
    verdict (ok, ...refs) {
      if (!refs.every(Number.isFinite)) return 'n/a'
      verdicts.push(ok)
      return ok ? 'PASS' : 'MISS'
    },
    met: () => verdicts.filter(Boolean).length,
    of: () => verdicts.length
  }
}

/** The table of a benchmark with goals: scenario, contender, median, a ratio, goal, verdict. */
function formatGoalTable (ratioTitle, rows) {
  return formatTable([
    { title: 'scenario', align: 'left' },
    { title: 'contender', align: 'left' },
    { title: 'median', align: 'right' },
    { title: ratioTitle, align: 'right' },
    { title: 'goal', align: 'left' },
    { title: '', align: 'left' }
  ], rows)
}

/** '- goals: M of N met (medians of R rounds)', the line under a goal table. */
function goalsLine (goals, rounds) {
  return `- goals: ${goals.met()} of ${goals.of()} met (medians of ${rounds} rounds)`
}

/** Fails the run (exit code 1) when it left names in /dev/shm (sweepShm()'s list). */
function failIfLeft (left) {
  if (left.length === 0) return
  console.error(`bench: left in /dev/shm: ${left.join(', ')}`)
  process.exitCode = 1
}

/**
 * A benchmark's entry point: `--child <args>` runs childMain(...args) (its helper processes),
 * else main(); what main throws is printed, the run's names swept, the exit code 1.
 */
function start (main, childMain) {
  if (process.argv[2] === '--child') return childMain(...process.argv.slice(3))
  main().catch((err) => {
    console.error(err)
    sweepShm()
    process.exitCode = 1
  })
}

module.exports = {
  goals,
  goalsLine,
  failIfLeft,
  start,
  formatGoalTable,
  now,
  gcRecorder,
  timePerOp,
  median,
  formatNs,
  formatRatio,
  formatSize,
  formatTable,
  machine,
  formatMachine,
  parseArgs,
  uniqueName,
  setNamePrefix,
  NAME_PREFIX,
  listShm,
  sweepShm,
  compileC,
  collectGarbage
}
