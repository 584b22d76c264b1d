#!/usr/bin/env node
'use strict'
// The install script, and `npm run build`.
//
//   node scripts/build.js           (install) use the prebuilt binary for this platform if it
//                                   loads; else build from source
//   node scripts/build.js --force   (npm run build) build from source, always
//
// `npm install --build-from-source` (npm_config_build_from_source=true) also forces a build.
// The source build uses the node-gyp that npm bundles and the headers installed with Node
// itself (<prefix>/include/node), so it needs no network. scripts/prebuild.js (npm pack)
// uses the same helpers.

const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')

const root = path.resolve(__dirname, '..')

function findNodeGyp () {
  const candidates = []
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp)
  if (process.env.npm_execpath) {
    candidates.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules',
      'node-gyp', 'bin', 'node-gyp.js'))
  }
  const prefix = path.resolve(path.dirname(process.execPath), '..')
  candidates.push(path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp',
    'bin', 'node-gyp.js'))
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'))
  } catch {}
  return candidates.find((p) => fs.existsSync(p))
}

// The headers that come with Node live in <prefix>/include/node. Pointing node-gyp at them
// keeps it from downloading a tarball (which fails on a machine without internet access).
function findNodeDir () {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir
  const prefix = path.resolve(path.dirname(process.execPath), '..')
  if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) return prefix
  return null
}

// The tools a source build runs, by the names node-gyp and make look for, that are not on
// PATH. Only used to explain a failed build.
function missingTools () {
  const onPath = (name) => (process.env.PATH || '').split(path.delimiter)
    .some((dir) => dir && fs.existsSync(path.join(dir, name)))
  const missing = []
  if (!(process.env.CC || onPath('cc') || onPath('gcc'))) missing.push('a C compiler (cc)')
  if (!(process.env.CXX || onPath('g++') || onPath('c++'))) missing.push('g++')
  if (!onPath('make')) missing.push('make')
  if (!(process.env.PYTHON || process.env.npm_config_python || onPath('python3'))) {
    missing.push('python3')
  }
  return missing
}

// Loads the prebuilt binary (never build/) in a child, the way lib/binding.js will, so a
// binary that does not load here (another libc, too old a glibc) is not taken. Returns the
// path of the one that loaded, or null with the reason printed.
function tryPrebuilt () {
  let nodeGypBuild
  try {
    nodeGypBuild = require.resolve('node-gyp-build', { paths: [root] })
  } catch {
    return null
  }
  const code = `const load = require(${JSON.stringify(nodeGypBuild)});
    const file = load.path(${JSON.stringify(root)}); require(file); console.log(file)`
  const result = spawnSync(process.execPath, ['-e', code], {
    env: { ...process.env, PREBUILDS_ONLY: '1' },
    encoding: 'utf8'
  })
  if (result.status === 0) return result.stdout.trim()
  const reason = (result.stderr || '').split('\n').find((l) => /^\w*Error\b/.test(l)) || ''
  if (/No native build was found/.test(reason)) {
    console.log(`shmem: no prebuilt binary for ${process.platform}-${process.arch}, ` +
      'building from source')
  } else {
    console.log('shmem: the prebuilt binary does not load here, building from source' +
      (reason ? ` (${reason.trim()})` : ''))
  }
  return null
}

function buildFromSource () {
  const gyp = findNodeGyp()
  if (!gyp) {
    console.error('shmem: node-gyp was not found (npm bundles it; is npm installed?)')
    return 1
  }
  const args = [gyp, 'rebuild']
  const nodedir = findNodeDir()
  if (nodedir) args.push(`--nodedir=${nodedir}`)
  else console.warn('shmem: Node headers not found next to node; node-gyp may try to download them')
  if (process.env.SHMEM_DEBUG) args.push('--debug')

  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' })
  if (result.status === 0) return 0
  const missing = missingTools()
  console.error([
    'shmem: building the native addon from source failed (see the output above).',
    missing.length ? `  Not found on PATH: ${missing.join(', ')}.` : null,
    `  No prebuilt binary of shmem loads on ${process.platform}-${process.arch}, so it is ` +
      'built, which needs a C compiler,',
    '  make, g++ and Python 3; on Debian or Ubuntu: sudo apt-get install build-essential python3'
  ].filter(Boolean).join('\n'))
  return result.status || 1
}

function main () {
  const force = process.argv.includes('--force') ||
    process.env.npm_config_build_from_source === 'true'
  if (!force) {
    const prebuilt = tryPrebuilt()
    if (prebuilt) {
      console.log(`shmem: using the prebuilt binary ${path.relative(root, prebuilt)}`)
      return 0
    }
  }
  return buildFromSource()
}

if (require.main === module) process.exitCode = main()

module.exports = { findNodeGyp, findNodeDir }
