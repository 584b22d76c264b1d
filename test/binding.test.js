'use strict'
// Loading the native addon: when no binary loads, ERR_SHMEM_ADDON says what to run (npm,
// pnpm, the system packages), lists the prebuilt platforms, and the command-line tool prints
// it whole with its name in front once. Each case runs in a child with SHMEM_PREBUILD (which
// node-gyp-build honours) pointing at a directory of the test's making.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('fs')
const path = require('path')
const { tempDir, cleanup, runNode } = require('./helpers')

after(cleanup)

const root = path.resolve(__dirname, '..')
const here = `${process.platform}-${process.arch}`

// Requires shmem in a child whose addon is looked for in `dir`; resolves with what it threw.
async function loadFrom (dir) {
  const dirOfScript = tempDir()
  const file = path.join(dirOfScript, 'load.js')
  fs.writeFileSync(file, `
    try {
      require(${JSON.stringify(root)})
      console.log(JSON.stringify({ loaded: true }))
    } catch (err) {
      console.log(JSON.stringify({ code: err.code, message: err.message, cause: !!err.cause }))
    }`)
  const result = await runNode(file, [], { env: { SHMEM_PREBUILD: dir } })
  assert.equal(result.code, 0, result.stderr)
  return JSON.parse(result.stdout)
}

function assertAdvice (message) {
  assert.doesNotMatch(message, /^shmem:/)
  assert.match(message, /^Cannot load the native addon of shmem on /)
  assert.match(message, new RegExp(`on ${here}`))
  assert.match(message, new RegExp(`Node\\.js ${process.versions.node.replace(/\./g, '\\.')}:`))
  assert.match(message, /^ {2}npm: {2}npm rebuild shmem$/m)
  assert.match(message, /npm rebuild shmem --ignore-scripts=false/)
  assert.match(message, /npm install-scripts approve shmem/)
  assert.match(message, /^ {2}pnpm: pnpm approve-builds /m)
  assert.match(message, /pnpm rebuild shmem/)
  assert.match(message, /sudo apt-get install build-essential python3$/)
}

test('no binary anywhere: ERR_SHMEM_ADDON says what to run', async () => {
  const err = await loadFrom(tempDir())
  assert.equal(err.code, 'ERR_SHMEM_ADDON')
  assert.equal(err.cause, true)
  assertAdvice(err.message)
  assert.match(err.message, /No native build was found/)
  assert.match(err.message, /has no prebuilt binaries/)
})

test('the message lists the prebuilt platforms that are there', async () => {
  const dir = tempDir()
  const others = ['linux-ppc64', 'darwin-x64'].filter((t) => t !== here)
  fs.mkdirSync(path.join(dir, 'prebuilds', others[0]), { recursive: true })
  fs.writeFileSync(path.join(dir, 'prebuilds', others[0], 'shmem.glibc.node'), '')
  fs.mkdirSync(path.join(dir, 'prebuilds', others[1]), { recursive: true })
  fs.writeFileSync(path.join(dir, 'prebuilds', others[1], 'shmem.node'), '')
  const err = await loadFrom(dir)
  assert.equal(err.code, 'ERR_SHMEM_ADDON')
  assertAdvice(err.message)
  const listed = [others[0] === 'linux-ppc64' ? 'linux-ppc64 (glibc)' : others[0], others[1]]
  assert.ok(err.message.includes(
    `has prebuilt binaries for ${listed.sort().join(', ')};`), err.message)
})

test('a prebuilt binary that does not load: the reason is in the message', async () => {
  const dir = tempDir()
  fs.mkdirSync(path.join(dir, 'prebuilds', here), { recursive: true })
  fs.writeFileSync(path.join(dir, 'prebuilds', here, 'shmem.node'), 'not a shared object\n')
  const err = await loadFrom(dir)
  assert.equal(err.code, 'ERR_SHMEM_ADDON')
  assertAdvice(err.message)
  assert.match(err.message, /shmem\.node/)
  assert.ok(err.message.includes(`has prebuilt binaries for ${here};`), err.message)
})

test('the command-line tool prints the whole message, named once', async () => {
  const result = await runNode(path.join(root, 'bin', 'shmem.js'), ['ls'],
    { env: { SHMEM_PREBUILD: tempDir() } })
  assert.equal(result.code, 1)
  assert.equal(result.stdout, '')
  assert.doesNotMatch(result.stderr, /shmem: shmem:/)
  assert.match(result.stderr, /^shmem: Cannot load the native addon of shmem on /)
  assertAdvice(result.stderr.replace(/^shmem: /, '').trimEnd())
})
