#!/usr/bin/env node
'use strict'
// Builds the addon with the node-gyp that npm bundles, against the headers installed with
// Node itself, so that `npm install` needs no network. A prebuilt binary for this platform
// (prebuilds/<platform>-<arch>/shmem.node) is used as it is, unless --force is given.

const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')

const root = path.resolve(__dirname, '..')
const force = process.argv.includes('--force')
const prebuilt = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'shmem.node')

if (!force && fs.existsSync(prebuilt)) {
  console.log(`shmem: using the prebuilt binary ${path.relative(root, prebuilt)}`)
  process.exit(0)
}

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

const gyp = findNodeGyp()
if (!gyp) {
  console.error('shmem: node-gyp was not found (npm bundles it; is npm installed?)')
  process.exit(1)
}
const args = [gyp, 'rebuild']
const nodedir = findNodeDir()
if (nodedir) args.push(`--nodedir=${nodedir}`)
else console.warn('shmem: Node headers not found next to node; node-gyp may try to download them')
if (process.env.SHMEM_DEBUG) args.push('--debug')

const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' })
if (result.status !== 0) {
  console.error('shmem: building the native addon failed (see the compiler output above)')
  process.exit(result.status || 1)
}
