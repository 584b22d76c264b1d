#!/usr/bin/env node
'use strict'
// Makes the prebuilt binaries that `npm pack` and `npm publish` ship (the prepack script):
// prebuilds/<platform>-<arch>/shmem.<libc>.node, built with prebuildify for Node-API (one
// binary serves every Node line from 18.17 on) and stripped. prebuilds/ is emptied first, so
// a tarball never carries a binary older than its sources.
//
// The build runs in a temporary copy of the sources, because prebuildify moves the binary out
// of build/Release: a developer's own build/ stays as it was. Like scripts/build.js, it uses
// npm's node-gyp and the headers installed with this Node, so it needs no network.

const { spawnSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')
const { findNodeGyp, findNodeDir } = require('./build')

const root = path.resolve(__dirname, '..')
const SOURCES = ['package.json', 'binding.gyp', 'src', 'include']

function fail (message) {
  console.error(`prebuild: ${message}`)
  process.exit(1)
}

let prebuildify
try {
  prebuildify = require('prebuildify')
} catch {
  fail('prebuildify is not installed: run `npm ci` (it is a devDependency) and pack again')
}

// Builds in a copy of the sources with prebuildify's options `options` and resolves with
// the path of the binary it put in prebuilds/.
function build (options) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shmem-prebuild-'))
  for (const entry of SOURCES) {
    fs.cpSync(path.join(root, entry), path.join(work, entry), { recursive: true })
  }
  const gyp = findNodeGyp()
  if (!gyp) fail('node-gyp was not found (npm bundles it; run this through npm)')
  const nodedir = findNodeDir()
  if (!nodedir) fail(`no Node headers next to ${process.execPath} (include/node/node_api.h)`)

  // prebuildify runs node-gyp as a program: it finds `node` on PATH (node-gyp.js starts with
  // #!/usr/bin/env node), so this node goes first; node-gyp takes --nodedir from the
  // environment, as it does under npm. prebuildify copies process.env when it is called.
  process.env.PATH = [path.dirname(process.execPath), process.env.PATH].join(path.delimiter)
  process.env.npm_config_nodedir = nodedir
  const opts = {
    cwd: work,
    out: root,
    napi: true,
    tagLibc: true,
    strip: true,
    nodeGyp: gyp,
    targets: [{ runtime: 'node', target: process.versions.node }],
    ...options
  }
  return new Promise((resolve, reject) => {
    prebuildify(opts, (err) => {
      fs.rmSync(work, { recursive: true, force: true })
      if (err) return reject(err)
      const dir = path.join(root, 'prebuilds', `${process.platform}-${opts.arch || process.arch}`)
      const files = fs.readdirSync(dir).filter((f) => f.endsWith('.node'))
      resolve(path.join(dir, files[0]))
    })
  })
}

// A binary made here must load here, through node-gyp-build as lib/binding.js loads it.
function checkLoads (file) {
  const code = `const load = require(${JSON.stringify(require.resolve('node-gyp-build'))});
    const found = load.path(${JSON.stringify(root)});
    if (found !== ${JSON.stringify(file)}) throw new Error('node-gyp-build picks ' + found);
    const addon = require(found);
    if (typeof addon !== 'object') throw new Error('not an addon')`
  const result = spawnSync(process.execPath, ['-e', code], {
    env: { ...process.env, PREBUILDS_ONLY: '1' },
    stdio: 'inherit'
  })
  if (result.status !== 0) fail(`${path.relative(root, file)} does not load`)
}

async function main () {
  fs.rmSync(path.join(root, 'prebuilds'), { recursive: true, force: true })
  const file = await build({})
  checkLoads(file)
  console.log(`prebuild: ${path.relative(root, file)}`)
}

main().catch((err) => fail(err.stack || String(err)))
