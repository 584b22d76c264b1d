#!/usr/bin/env node
'use strict'
// `npm run test:sanitize`: the JavaScript suites against an AddressSanitizer + UBSan build of
// the addon. make test runs the C core's own tests sanitized; this runs everything the
// binding does (and the core under it) as the JS suites drive it.
//
//   node scripts/sanitize.js                 build, then run test/*.test.js
//   node scripts/sanitize.js --build-only    build only
//   node scripts/sanitize.js test/x.test.js  build, then run these files
//   node scripts/sanitize.js --bun BUN       build, then Bun's smoke suite (test/bun/) with the
//                                            runtime BUN (Bun finalizes buffers at other times
//                                            than Node: a use-after-free showed only there)
//
// The build: binding.gyp with -Dshmem_sanitize=1, in a copy of binding.gyp, src/ and include/
// under build-sanitize/, so the developer's build/ stays as it was (and is never
// rebuilt afterwards), and a developer's `npm run build` (which empties build/) leaves it be.
// SHMEM_PREBUILD points node-gyp-build at build-sanitize/, so the suites
// and every child process they start load build-sanitize/build/Release/shmem.node.
//
// The run: node is not built with ASan, so the sanitizer runtime has to be the first library
// in the process: LD_PRELOAD of the compiler's libasan (and libubsan), which every child
// inherits. ASAN_OPTIONS=detect_leaks=0, since V8 leaves memory to the OS at exit by design;
// UB aborts the process (-fno-sanitize-recover=all, halt_on_error=1), so a test that meets
// it fails. SHMEM_SANITIZE=1 tells the tests they run here.
//
// What is skipped under SHMEM_SANITIZE=1, and why:
//   - test/segment.test.js, 'advise, residency, populate, lockMemory': the check that
//     lockMemory (mlock) faults the pages in. ASan intercepts mlock(2) and makes it a no-op
//     (as make test notes for the C tests), so no page comes in; the call itself still runs.
// Nothing else is skipped: the install tests (npm pack, a prebuilt binary, node-gyp), the
// Python interop and the children the suites start all run with the runtime preloaded. Tests
// that skip for their own reasons (a peer package not installed, no huge pages) skip here too.

const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')
const { findNodeGyp, findNodeDir } = require('./build')

const root = path.resolve(__dirname, '..')
const stage = path.join(root, 'build-sanitize')
const addon = path.join(stage, 'build', 'Release', 'shmem.node')

function sh (cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts })
  if (r.error) throw r.error
  return r.status === null ? 1 : r.status
}

// The sanitizer runtimes of the compiler node-gyp builds with (cc, or $CC), for LD_PRELOAD.
function runtimes () {
  const cc = process.env.CC || 'cc'
  const found = []
  for (const lib of ['libasan.so', 'libubsan.so']) {
    const r = spawnSync(cc, [`-print-file-name=${lib}`], { encoding: 'utf8' })
    const file = (r.stdout || '').trim()
    // An unknown file is printed back as its bare name.
    if (r.status !== 0 || !path.isAbsolute(file) || !fs.existsSync(file)) {
      throw new Error(`sanitize: ${cc} has no ${lib} (install libasan8 and libubsan1)`)
    }
    found.push(fs.realpathSync(file))
  }
  return found
}

function copyTree (from, to) {
  fs.mkdirSync(to, { recursive: true })
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, entry.name)
    const b = path.join(to, entry.name)
    if (entry.isDirectory()) copyTree(a, b)
    else if (entry.isFile()) fs.copyFileSync(a, b)
  }
}

function build () {
  const gyp = findNodeGyp()
  if (!gyp) throw new Error('sanitize: node-gyp was not found (npm bundles it)')
  // A fresh copy of the sources each time; node-gyp's own object files stay, so that only
  // what changed is compiled again.
  for (const dir of ['src', 'include']) {
    fs.rmSync(path.join(stage, dir), { recursive: true, force: true })
    copyTree(path.join(root, dir), path.join(stage, dir))
  }
  fs.copyFileSync(path.join(root, 'binding.gyp'), path.join(stage, 'binding.gyp'))
  fs.writeFileSync(path.join(stage, 'package.json'), '{ "name": "shmem-sanitize", "private": true }\n')
  const nodedir = findNodeDir()
  const common = nodedir ? [`--nodedir=${nodedir}`] : []
  let status = sh(process.execPath, [gyp, 'configure', ...common, '--', '-Dshmem_sanitize=1'],
    { cwd: stage })
  if (status === 0) status = sh(process.execPath, [gyp, 'build', ...common], { cwd: stage })
  if (status !== 0) throw new Error('sanitize: the sanitized build failed (see above)')
}

function sanitizedEnv () {
  const preload = runtimes()
  return {
    ...process.env,
    SHMEM_PREBUILD: stage,
    SHMEM_SANITIZE: '1',
    LD_PRELOAD: [...preload, process.env.LD_PRELOAD].filter(Boolean).join(' '),
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:allow_user_segv_handler=1' +
      (process.env.ASAN_OPTIONS ? `:${process.env.ASAN_OPTIONS}` : ''),
    UBSAN_OPTIONS: 'halt_on_error=1:abort_on_error=1:print_stacktrace=1' +
      (process.env.UBSAN_OPTIONS ? `:${process.env.UBSAN_OPTIONS}` : '')
  }
}

// The suites must load the sanitized addon with the runtime in place: a check that fails
// loudly rather than a run that silently tests the ordinary build.
function checkLoaded (env) {
  const code = `const f = require('node-gyp-build').path(${JSON.stringify(root)});
    require(${JSON.stringify(root)});
    const maps = require('fs').readFileSync('/proc/self/maps', 'utf8');
    if (f !== ${JSON.stringify(addon)}) throw new Error('loaded ' + f);
    if (!/libasan/.test(maps)) throw new Error('no ASan runtime in the process');
    console.log('sanitize: ' + f + ' loads under ASan + UBSan')`
  const status = sh(process.execPath, ['-e', code], { env, cwd: root })
  if (status !== 0) throw new Error('sanitize: the sanitized addon does not load (see above)')
}

function main () {
  const args = process.argv.slice(2)
  const buildOnly = args.includes('--build-only')
  const bunAt = args.indexOf('--bun')
  const bun = bunAt >= 0 ? args[bunAt + 1] : null
  const files = args.filter((a, i) => !a.startsWith('--') && !(bunAt >= 0 && i === bunAt + 1))
  build()
  if (buildOnly) return 0
  const env = sanitizedEnv()
  checkLoaded(env)
  if (bun) return sh(bun, ['test', 'test/bun/'], { env, cwd: root })
  const tests = files.length
    ? files
    : fs.readdirSync(path.join(root, 'test')).filter((f) => f.endsWith('.test.js')).sort()
      .map((f) => path.join('test', f))
  return sh(process.execPath, ['--test', '--test-concurrency=1', ...tests], { env, cwd: root })
}

if (require.main === module) {
  try {
    process.exitCode = main()
  } catch (err) {
    console.error(err.message)
    process.exitCode = 1
  }
}
