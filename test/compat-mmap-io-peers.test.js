'use strict'
// The originals' own test material run against compat/mmap-io, changed only in its require
// line: mmap-io 1.4.3's test script (its src/test.ls compiled by LiveScript 1.6.0) against
// shmem/compat/mmap-io, and @riaskov/mmap-io 1.6.0's node:test suite against
// shmem/compat/mmap-io@1.6. Both are MIT-licensed and kept, with their licenses, in
// test/fixtures/peers/, so that nothing is fetched at test time.

const { test } = require('node:test')
const assert = require('assert')
const fs = require('fs')
const path = require('path')
const { execFile } = require('child_process')
const { tempDir } = require('./helpers')
const { sharedSupported } = require('../lib/map')

const PEERS = path.join(__dirname, 'fixtures', 'peers')

/** The fixture copied into a fresh directory with its one require line pointed at ours. */
function withRequire (fixture, from, to) {
  const text = fs.readFileSync(path.join(PEERS, fixture), 'utf8')
  assert.strictEqual(text.split(from).length, 2, `${fixture}: one "${from}"`)
  const dir = tempDir()
  const file = path.join(dir, fixture)
  fs.writeFileSync(file, text.replace(from, to))
  return { dir, file }
}

function run (args, cwd) {
  // Without NODE_TEST_CONTEXT, which would make a child `node --test` report to this runner.
  const env = { ...process.env }
  delete env.NODE_TEST_CONTEXT
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, env, timeout: 120000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, signal: err && err.signal, stdout, stderr }))
  })
}

test('mmap-io 1.4\'s test script passes on shmem/compat/mmap-io', async () => {
  const compat = JSON.stringify(path.resolve(__dirname, '..', 'compat', 'mmap-io.js'))
  const { dir, file } = withRequire('mmap-io-1.4-test.js', 'require("../")', `require(${compat})`)
  const r = await run([file], dir)
  assert.strictEqual(r.signal, null, r.stderr)
  assert.strictEqual(r.code, 0, r.stdout + r.stderr)
  // Its four "should throw" blocks log only when the call threw.
  for (const block of ['Pass faulty arg', 'Pass zero size', 'Pass wrong page-size as offset',
    'Pass faulty arg to advise()']) {
    assert.match(r.stdout, new RegExp(`^${block.replace(/[()]/g, '\\$&')} - caught deliberate exception`, 'm'))
  }
  // Its other blocks log only when something failed.
  assert.doesNotMatch(r.stdout, /fucked up|Shit happened|Failed to remove/)
  assert.match(r.stdout, /Write\/read verification seemed to work out/)
  assert.match(r.stdout, /^All done$/m)
})

const noSab = sharedSupported()
  ? false
  : 'this Node has no node_api_create_external_sharedarraybuffer (Node.js 22.23.3, 24.16.0, 26.1.0 and later have it)'

test('@riaskov/mmap-io 1.6\'s suite passes on shmem/compat/mmap-io@1.6', { skip: noSab }, async () => {
  const compat = JSON.stringify(path.resolve(__dirname, '..', 'compat', 'mmap-io@1.6.js'))
  const { dir, file } = withRequire('mmap-io-1.6-test.mjs', "require('../mmap-io.js')", `require(${compat})`)
  const r = await run(['--test', '--test-reporter=tap', file], dir)
  assert.strictEqual(r.code, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /^# pass 17$/m)
  assert.match(r.stdout, /^# fail 0$/m)
})

test('where this Node cannot make one, map() of 1.6 says which Node can', { skip: !noSab && 'this Node can' }, () => {
  const mmap = require('../compat/mmap-io@1.6')
  const file = path.join(tempDir(), 'f.bin')
  fs.writeFileSync(file, Buffer.alloc(4096))
  const fd = fs.openSync(file, 'r+')
  try {
    assert.throws(() => mmap.map(4096, mmap.PROT_READ, mmap.MAP_SHARED, fd),
      { code: 'ERR_SHMEM_UNSUPPORTED', message: /22\.23\.3 and later 22\.x, 24\.16\.0 and later 24\.x, 26\.1\.0 and later/ })
  } finally {
    fs.closeSync(fd)
  }
})
