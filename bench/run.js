'use strict'
// Runs every benchmark in this directory (each bench/*.js but this file and the lib.js
// helpers), one after another, each in a child process of its own. Arguments pass through:
//
//   npm run bench                  the tables
//   npm run bench -- --quick       fewer rounds and iterations (a smoke test)
//   npm run bench -- --json        one JSON object: { "<file>": <its --json output>, ... }
//
// It exits non-zero when a benchmark fails or a run leaves a shmem-bench-* name in /dev/shm.

const { spawn } = require('child_process')
const fs = require('fs')
const path = require('path')
const lib = require('./lib')

const NOT_BENCHMARKS = new Set(['run.js', 'lib.js'])

function benchmarks () {
  return fs.readdirSync(__dirname)
    .filter((f) => f.endsWith('.js') && !NOT_BENCHMARKS.has(f))
    .filter((f) => fs.statSync(path.join(__dirname, f)).isFile())
    .sort()
}

// Runs one benchmark; resolves with its exit code and, with --json, its stdout.
function runOne (file, argv, json) {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [path.join(__dirname, file), ...argv], {
      stdio: ['ignore', json ? 'pipe' : 'inherit', 'inherit']
    })
    let stdout = ''
    if (json) proc.stdout.on('data', (d) => { stdout += d })
    proc.on('error', (err) => {
      console.error(`bench: could not start ${file}: ${err.message}`)
      resolve({ code: 1, stdout })
    })
    proc.on('close', (code, signal) => resolve({ code: signal ? 1 : code, signal, stdout }))
  })
}

const ours = (names) => names.filter((n) => n.startsWith('shmem-bench-'))

async function main () {
  const argv = process.argv.slice(2)
  const { json } = lib.parseArgs(argv)
  const files = benchmarks()
  const before = new Set(lib.listShm())
  const results = {}
  const failed = []

  for (const file of files) {
    if (!json) console.log(`\n=== ${file} ${argv.join(' ')}`.trimEnd())
    const start = Date.now()
    const { code, signal, stdout } = await runOne(file, argv, json)
    const seconds = ((Date.now() - start) / 1000).toFixed(1)
    if (code !== 0) {
      failed.push(file)
      console.error(`bench: ${file} failed (${signal || `exit code ${code}`}) after ${seconds} s`)
    } else if (!json) {
      console.log(`(${file}: ${seconds} s)`)
    }
    if (json) {
      try {
        results[file] = JSON.parse(stdout)
      } catch {
        results[file] = { error: 'no JSON output', code, output: stdout }
        if (!failed.includes(file)) failed.push(file)
      }
    }
  }

  const left = ours(lib.listShm().filter((n) => !before.has(n)))
  if (left.length) {
    console.error(`bench: left in /dev/shm: ${left.join(', ')}`)
    failed.push('(/dev/shm not clean)')
  }
  if (json) process.stdout.write(JSON.stringify(results, null, 2) + '\n')
  if (failed.length) {
    console.error(`bench: failed: ${failed.join(', ')}`)
    process.exitCode = 1
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
