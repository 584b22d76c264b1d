'use strict'
// Installing the package as a user does: `npm pack` (whose prepack makes the prebuilt binary),
// then `npm install <tarball>` in a new app whose PATH holds node, npm and sh but no cc, gcc,
// g++, make or python3, once with install scripts and once with --ignore-scripts; the app then
// maps segments through the prebuilt binary. Without a prebuilt binary for this platform the
// install fails saying what is missing, and with --ignore-scripts the load error says what to
// run. It runs under process.execPath, so running it under each Node line covers each line.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')

const root = path.resolve(__dirname, '..')
const here = `${process.platform}-${process.arch}`
const TOOLS = ['cc', 'gcc', 'g++', 'c++', 'make', 'python3', 'python']

// npm's own script: the npm running this test, else the one installed with this node, else
// the first npm on PATH (the other Node lines here come without one).
function findNpmCli () {
  const candidates = []
  if (process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)) {
    candidates.push(process.env.npm_execpath)
  }
  candidates.push(path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm',
    'bin', 'npm-cli.js'))
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue
    try {
      const real = fs.realpathSync(path.join(dir, 'npm'))
      if (real.endsWith('npm-cli.js')) candidates.push(real)
    } catch {}
  }
  return candidates.find((p) => fs.existsSync(p))
}

const npmCli = process.platform === 'win32' ? null : findNpmCli()
const skip = process.platform === 'win32'
  ? 'POSIX only'
  : !npmCli ? 'npm was not found (npm_execpath, next to node, or on PATH)' : false

let work // every file this test makes is under it
let bin // node, npm and sh: nothing that compiles
let tarball // npm pack of the repository, prebuilt binary inside
let bare // the same package without prebuilds/
let packed = [] // the paths in the tarball

function run (file, args, { cwd, env, timeout = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

// The environment of a user's shell that has no build tools: nothing inherited from the npm
// that may be running this test (npm_config_*, npm_execpath), only HOME for npm's cache.
function userEnv () {
  return { HOME: process.env.HOME || os.homedir(), PATH: bin, LANG: 'C' }
}

function npm (args, cwd, env = userEnv()) {
  return run(path.join(bin, 'node'), [npmCli, ...args], { cwd, env })
}

async function newApp (name, tgz, ignoreScripts) {
  const app = path.join(work, name)
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', private: true }))
  const args = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts']
  if (ignoreScripts) args.push('--ignore-scripts')
  return { app, install: await npm([...args, tgz], app) }
}

// In the app: a POSIX segment seen through two mappings, and a memfd, each written and read
// back, then closed; prints which binary node-gyp-build picked.
const USE = `
  const path = require('path')
  const shmem = require('shmem')
  const name = '/shmem-install-' + process.pid
  const a = shmem.create(name, 4096)
  try {
    const b = shmem.open(name)
    a.buffer[100] = 0xa5
    if (b.buffer[100] !== 0xa5) throw new Error('the second mapping did not see the write')
    b.close()
  } finally {
    shmem.unlink(name)
  }
  a.close()
  const m = shmem.memfd(4096)
  new Uint8Array(m.arrayBuffer)[0] = 7
  if (m.buffer[0] !== 7) throw new Error('memfd write not read back')
  m.close()
  const addon = require('node-gyp-build').path(path.dirname(require.resolve('shmem')))
  console.log(path.relative(path.dirname(require.resolve('shmem')), addon))
`

before(async () => {
  if (skip) return
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'shmem-install-'))
  bin = path.join(work, 'bin')
  fs.mkdirSync(bin)
  fs.symlinkSync(process.execPath, path.join(bin, 'node'))
  fs.symlinkSync(npmCli, path.join(bin, 'npm'))
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh')) // npm runs scripts with sh

  // Pack a copy of the repository, as a clean clone would be (no build/, no prebuilds/), with
  // the devDependencies (prebuildify) the prepack needs. This checkout is left as it is.
  const clone = path.join(work, 'clone')
  const skipped = new Set(['node_modules', 'build', 'out', 'prebuilds', '.git', '.peers'])
  fs.cpSync(root, clone, {
    recursive: true,
    filter: (src) => !skipped.has(path.relative(root, src).split(path.sep)[0])
  })
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(clone, 'node_modules'))
  // The pack itself compiles, so it gets this process's PATH.
  const packEnv = { ...userEnv(), PATH: `${bin}${path.delimiter}${process.env.PATH}` }
  const pack = await npm(['pack', '--json', '--pack-destination', work], clone, packEnv)
  assert.equal(pack.code, 0, `npm pack failed:\n${pack.stderr}`)
  const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[')))
  tarball = path.join(work, info.filename)
  packed = info.files.map((f) => f.path)

  // The same package with no prebuilt binary: the tarball a platform without one gets.
  fs.rmSync(path.join(clone, 'prebuilds'), { recursive: true })
  fs.mkdirSync(path.join(work, 'bare'))
  const packBare = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination',
    path.join(work, 'bare')], clone, packEnv)
  assert.equal(packBare.code, 0, packBare.stderr)
  bare = path.join(work, 'bare', JSON.parse(packBare.stdout.slice(packBare.stdout.indexOf('[')))[0]
    .filename)
})

after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true })
})

test('the test PATH has node and npm but no build tools', { skip }, () => {
  assert.deepEqual(fs.readdirSync(bin).sort(), ['node', 'npm', 'sh'])
  for (const tool of TOOLS) assert.ok(!fs.existsSync(path.join(bin, tool)), tool)
})

test('npm pack ships the prebuilt binary and nothing that cannot work', { skip }, () => {
  const prebuilt = packed.filter((f) => f.startsWith(`prebuilds/${here}/`))
  assert.equal(prebuilt.length, 1, `no prebuilds/${here}/ in ${packed.join(' ')}`)
  assert.match(prebuilt[0], /\.node$/)
  for (const file of ['LICENSE', 'CHANGELOG.md', 'README.md', 'package.json', 'binding.gyp',
    'scripts/build.js', 'Makefile', 'include/shmem.h']) {
    assert.ok(packed.includes(file), `${file} is not in the tarball`)
  }
  const useless = packed.filter((f) =>
    /^(test|bench|build|out|\.peers|\.ci|node_modules)\//.test(f) ||
    f === 'scripts/prebuild.js' || f === 'scripts/peers.js')
  assert.deepEqual(useless, [])
})

for (const ignoreScripts of [false, true]) {
  const how = ignoreScripts ? 'with --ignore-scripts' : 'with install scripts'
  test(`npm install of the tarball ${how}, no compiler: segments map`, { skip }, async () => {
    const { app, install } = await newApp(ignoreScripts ? 'app-ignore' : 'app-scripts',
      tarball, ignoreScripts)
    assert.equal(install.code, 0, `npm install failed:\n${install.stdout}\n${install.stderr}`)
    if (!ignoreScripts) assert.match(install.stdout, /shmem: using the prebuilt binary prebuilds\//)
    assert.ok(!fs.existsSync(path.join(app, 'node_modules', 'shmem', 'build')))
    const use = await run(path.join(bin, 'node'), ['-e', USE], { cwd: app, env: userEnv() })
    assert.equal(use.code, 0, `exit ${use.code} ${use.signal || ''}\n${use.stderr}`)
    assert.match(use.stdout.trim(), new RegExp(`^prebuilds/${here}/shmem\\..*node$`))
  })
}

test('no prebuilt binary and no compiler: the install fails saying what is missing',
  { skip }, async () => {
    const { install } = await newApp('app-bare', bare, false)
    assert.notEqual(install.code, 0)
    const out = install.stdout + install.stderr
    assert.match(out, /shmem: no prebuilt binary for /)
    assert.match(out, /shmem: building the native addon from source failed/)
    assert.match(out, /Not found on PATH: a C compiler \(cc\), g\+\+, make/)
    assert.match(out, /sudo apt-get install build-essential python3/)
  })

test('no prebuilt binary, --ignore-scripts: require() says what to run', { skip }, async () => {
  const { app, install } = await newApp('app-bare-ignore', bare, true)
  assert.equal(install.code, 0, install.stderr)
  const use = await run(path.join(bin, 'node'), ['-e', `
    try { require('shmem') } catch (err) { console.log(err.code); console.log(err.message) }`],
  { cwd: app, env: userEnv() })
  assert.equal(use.code, 0, use.stderr)
  const [code, ...lines] = use.stdout.split('\n')
  assert.equal(code, 'ERR_SHMEM_ADDON')
  const message = lines.join('\n')
  assert.match(message, /^Cannot load the native addon of shmem on /)
  assert.match(message, /has no prebuilt binaries/)
  assert.match(message, /npm rebuild shmem/)
  assert.match(message, /pnpm approve-builds/)
  assert.match(message, /build-essential python3/)
})
