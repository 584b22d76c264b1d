'use strict'
// Shared by the test files: unique names, cleanup that runs even when a test fails, and a
// runner for child processes (anything cross-process or that could crash runs in one).

const { spawn } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')
const shmem = require('..')

let counter = 0

// Every test segment gets a name no other run or test uses: the pid plus a counter.
function uniqueName (tag = 't') {
  return `/shmem-test-${tag}-${process.pid}-${++counter}`
}

// Names, keys and paths to remove when the test file ends, whatever happened.
const posixNames = new Set()
const sysvKeys = new Set()
const tempDirs = new Set()

function trackPosix (name) {
  posixNames.add(name)
  return name
}

function trackSysv (key) {
  sysvKeys.add(key)
  return key
}

function tempDir () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `shmem-test-${process.pid}-`))
  tempDirs.add(dir)
  return dir
}

// Creator records (autoUnlink) go to a directory of this test file's own, which the children
// it starts inherit, not to /dev/shm/.shmem-registry-<uid>: shmem keeps that one once it
// exists (docs/lifecycle.md), and the tests leave nothing behind. Files that test the
// registry set their own.
if (!process.env.SHMEM_REGISTRY) process.env.SHMEM_REGISTRY = tempDir()

function cleanup () {
  for (const name of posixNames) {
    try { shmem.unlink(name) } catch {}
  }
  posixNames.clear()
  for (const key of sysvKeys) {
    try { shmem.sysv.remove(key) } catch {}
  }
  sysvKeys.clear()
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
  tempDirs.clear()
}

process.on('exit', cleanup)

// Runs `node file ...args` and resolves with { code, signal, stdout, stderr }. Extra stdio
// entries (fds to hand to the child) go after the three standard ones.
function runNode (file, args = [], { stdio = [], env, timeout = 30000, input, nodeArgs = [] } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, file, ...args], {
      stdio: ['pipe', 'pipe', 'pipe', ...stdio],
      env: { ...process.env, ...env }
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${path.basename(file)} timed out after ${timeout} ms\n${stderr}`))
    }, timeout)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
    if (input !== undefined) child.stdin.end(input)
    else child.stdin.end()
  })
}

// Runs a snippet of JS in a fresh node process, inside an async function (so it may await),
// with `shmem` and `assert` in scope. A rejection prints and exits with code 1.
function runSnippet (code, opts = {}) {
  const dir = tempDir()
  const file = path.join(dir, 'snippet.js')
  fs.writeFileSync(file,
    `'use strict'\nconst shmem = require(${JSON.stringify(path.resolve(__dirname, '..'))})\n` +
    `const assert = require('assert')\n;(async () => {\n${code}\n})().catch((err) => {\n` +
    '  console.error(err)\n  process.exit(1)\n})\n')
  return runNode(file, opts.args || [], opts)
}

const fixture = (name) => path.join(__dirname, 'fixtures', name)

module.exports = {
  shmem,
  uniqueName,
  trackPosix,
  trackSysv,
  tempDir,
  cleanup,
  runNode,
  runSnippet,
  fixture
}
