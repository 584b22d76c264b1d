#!/usr/bin/env node
'use strict'
// The packages we compare against (benchmarks) and interoperate with (tests). They are not
// devDependencies: all are native addons, and one that fails to build on a Node line (as
// shm-typed-array does on Node 26) would make `npm install` in a clone fail there. Each is
// installed on its own, for the running Node's ABI, into .peers/<abi>/ by `npm run peers`;
// a test or benchmark that needs one asks requirePeer() and skips with the reason when it is
// missing. One list, here.
//
//   node scripts/peers.js           install every peer for this Node (a failure is reported,
//                                   not fatal: the tests that need that peer then skip)
//   node scripts/peers.js --strict  the same, but exit 1 when a peer did not install

const fs = require('fs')
const path = require('path')
const { spawnSync } = require('child_process')

const PEERS = {
  'shm-typed-array': '^0.1.1',
  '@riaskov/mmap-io': '^1.4.3',
  lmdb: '^3.5.6' // bench/map.js: SharedMap against lmdb-js, a memory-mapped B-tree
}

const root = path.resolve(__dirname, '..')
// Native addons are built for one ABI: a folder per Node line (Bun reads Node's number).
const dir = path.join(root, '.peers', `abi-${process.versions.modules}`)

/** The peer's exports, or throws an Error whose message says why and what to run. */
function requirePeer (name) {
  if (!Object.hasOwn(PEERS, name)) throw new Error(`${name} is not one of the peers`)
  let file
  try {
    file = require.resolve(name, { paths: [dir] })
  } catch {
    throw new Error(`${name} is not installed for this Node (ABI ${process.versions.modules}): ` +
      'run `npm run peers`')
  }
  try {
    return require(file)
  } catch (err) {
    throw new Error(`${name} is installed but does not load here (${err.code || err.message})`)
  }
}

/** null when the peer loads, else the reason it does not (for a test's skip). */
function peerMissing (name) {
  try {
    requirePeer(name)
    return null
  } catch (err) {
    return err.message
  }
}

function install () {
  const strict = process.argv.includes('--strict')
  fs.mkdirSync(dir, { recursive: true })
  const pkg = path.join(dir, 'package.json')
  if (!fs.existsSync(pkg)) fs.writeFileSync(pkg, '{ "private": true }\n')
  const npm = process.env.npm_execpath
    ? [process.execPath, [process.env.npm_execpath]]
    : ['npm', []]
  let failed = 0
  for (const [name, range] of Object.entries(PEERS)) {
    // Saved to .peers/<abi>/package.json, so that installing the next one keeps this one.
    const r = spawnSync(npm[0], [...npm[1], 'install', '--no-audit', '--no-fund',
      '--prefix', dir, `${name}@${range}`],
    { cwd: dir, encoding: 'utf8' })
    const why = peerMissing(name)
    if (r.status === 0 && why === null) {
      console.log(`peers: ${name} installed for ABI ${process.versions.modules}`)
    } else {
      failed++
      const tail = `${r.stdout || ''}${r.stderr || ''}`.trim().split('\n').slice(-3).join(' | ')
      console.log(`peers: ${name} is not available on Node ${process.version}` +
        ` (${why || 'npm install failed'}); the tests and benchmarks that need it skip.` +
        (tail ? ` npm said: ${tail}` : ''))
    }
  }
  if (strict && failed > 0) process.exit(1)
}

module.exports = { PEERS, peersDir: dir, requirePeer, peerMissing }

if (require.main === module) install()
