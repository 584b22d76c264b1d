'use strict'
// The type declarations, checked four ways:
// - test/types/usage.ts uses every public API under `tsc --strict`;
// - the consumers in test/types/consumers/ compile against the package as a project installs
//   it (node_modules/shmem, resolved by name through package.json "exports" or "types"): an
//   ESM and a CommonJS consumer under `module: nodenext`, and one under `module: commonjs`
//   with node10 resolution, all without esModuleInterop;
// - the declared names match what each entry point exports at run time, and each .d.mts
//   re-exports every name of its .d.ts;
// - @arethetypeswrong/cli and publint find no problem in the packed package.
// Skips, saying why, where TypeScript, the linters or npm are absent.
const test = require('node:test')
const assert = require('node:assert')
const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawnSync } = require('child_process')

const root = path.join(__dirname, '..')
const consumers = path.join(__dirname, 'types', 'consumers')

function resolveOrNull (id) {
  try {
    return require.resolve(id)
  } catch {
    return null
  }
}

const tsc = resolveOrNull('typescript/bin/tsc')
const noTypescript = tsc ? false : 'typescript is not installed (a devDependency)'

// The package's entry points: the CommonJS and ESM declarations and JavaScript of each.
const ENTRIES = [
  { spec: 'shmem', base: 'index' },
  { spec: 'shmem/keyv', base: 'keyv' },
  ...['shm-typed-array', 'mmap-io', 'mmap-io@1.6', 'mmap-ipc', 'shmmap'].map((name) => (
    { spec: `shmem/compat/${name}`, base: `compat/${name}` }))
]

function runTsc (args, cwd) {
  const r = spawnSync(process.execPath, [tsc, ...args], { cwd, encoding: 'utf8' })
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
}

/** A project directory with the package installed as a dependency (a symlink to this tree). */
function makeConsumerProject (t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmem-types-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.mkdirSync(path.join(dir, 'node_modules', '@types'), { recursive: true })
  fs.symlinkSync(root, path.join(dir, 'node_modules', 'shmem'), 'dir')
  fs.symlinkSync(path.dirname(require.resolve('@types/node/package.json')),
    path.join(dir, 'node_modules', '@types', 'node'), 'dir')
  // No "type": the .ts file is CommonJS, as in most projects.
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "private": true }\n')
  for (const file of fs.readdirSync(consumers)) {
    fs.copyFileSync(path.join(consumers, file), path.join(dir, file))
  }
  return dir
}

const STRICT = ['--noEmit', '--strict', '--target', 'es2022', '--lib', 'es2022',
  '--types', 'node', '--esModuleInterop', 'false', '--allowSyntheticDefaultImports', 'false']

test('the type declarations compile against a use of every public API',
  { skip: noTypescript }, () => {
    const r = runTsc(['--noEmit', '--strict', '--target', 'es2022',
      '--module', 'commonjs', '--moduleResolution', 'node', '--esModuleInterop',
      '--types', 'node', '--lib', 'es2022', path.join(__dirname, 'types', 'usage.ts')])
    assert.equal(r.status, 0, `tsc found errors:\n${r.output}`)
  })

test('an ESM and a CommonJS consumer compile under module nodenext', { skip: noTypescript },
  (t) => {
    const dir = makeConsumerProject(t)
    const r = runTsc([...STRICT, '--module', 'nodenext', '--moduleResolution', 'nodenext',
      '--listFiles', 'esm.mts', 'cjs.cts'], dir)
    assert.equal(r.status, 0, `tsc found errors:\n${r.output}`)
    // The ESM consumer got the ESM declarations ("import" condition), not the CommonJS ones.
    const listed = new Set(r.output.split('\n').map((line) => line.trim()))
    for (const { base } of ENTRIES) {
      for (const ext of ['.d.ts', '.d.mts']) {
        assert.ok(listed.has(path.join(root, base + ext)), `tsc read ${base}${ext}`)
      }
    }
  })

test('a consumer compiles under module commonjs, node10 resolution, no esModuleInterop',
  { skip: noTypescript }, (t) => {
    const dir = makeConsumerProject(t)
    const r = runTsc([...STRICT, '--module', 'commonjs', '--moduleResolution', 'node10',
      'node10.ts'], dir)
    assert.equal(r.status, 0, `tsc found errors:\n${r.output}`)
  })

test('the consumers fail to compile where the types must refuse', { skip: noTypescript },
  (t) => {
    // Every @ts-expect-error in the consumers must be needed: with them removed, tsc reports
    // errors on exactly the lines they stood over (a default import without esModuleInterop,
    // POSIX stat() fields on System V and back, module.exports.default) and nowhere else.
    const dir = makeConsumerProject(t)
    const expected = new Set()
    for (const file of ['esm.mts', 'cjs.cts', 'node10.ts']) {
      const p = path.join(dir, file)
      const lines = fs.readFileSync(p, 'utf8').split('\n')
      lines.forEach((line, i) => {
        if (line.includes('@ts-expect-error')) expected.add(`${file}:${i + 2}`)
      })
      fs.writeFileSync(p, lines.map((line) => line.replace(/\/\/ @ts-expect-error.*/, ''))
        .join('\n'))
    }
    assert.ok(expected.size >= 4)
    const nodenext = runTsc([...STRICT, '--module', 'nodenext', '--moduleResolution', 'nodenext',
      'esm.mts', 'cjs.cts'], dir)
    const node10 = runTsc([...STRICT, '--module', 'commonjs', '--moduleResolution', 'node10',
      'node10.ts'], dir)
    const output = `${nodenext.output}${node10.output}`
    const found = new Set([...output.matchAll(/^(\S+)\((\d+),\d+\): error TS/gm)]
      .map((m) => `${m[1]}:${m[2]}`))
    assert.deepEqual([...found].sort(), [...expected].sort(), output)
  })

/** The names each entry point exports at run time, from CommonJS and from ESM, in a child. */
function runtimeExports () {
  const script = `
    import { createRequire } from 'module'
    const require = createRequire(${JSON.stringify(path.join(root, 'index.js'))})
    const out = {}
    for (const base of ${JSON.stringify(ENTRIES.map((e) => e.base))}) {
      const cjs = require('./' + base + '.js')
      const esm = await import(${JSON.stringify(root + '/')} + base + '.mjs')
      // A class's static methods are exports too, though not enumerable (mmap-ipc's
      // CreateNewItem, as in the original); ESM reaches them through the default export.
      const statics = typeof cjs === 'function'
        ? Object.getOwnPropertyNames(cjs).filter((n) => typeof cjs[n] === 'function' &&
            !Object.keys(cjs).includes(n) && !['length', 'name', 'prototype'].includes(n))
        : []
      out[base] = { cjs: Object.keys(cjs).concat(statics), esm: Object.keys(esm), statics }
    }
    console.log(JSON.stringify(out))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script],
    { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout)
}

test('the declarations name exactly what each entry point exports', { skip: noTypescript },
  () => {
    const ts = require('typescript')
    const files = ENTRIES.flatMap((e) => [`${e.base}.d.ts`, `${e.base}.d.mts`])
      .map((f) => path.join(root, f))
    const program = ts.createProgram(files, {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noEmit: true,
      types: ['node']
    })
    const diagnostics = ts.getPreEmitDiagnostics(program)
    assert.deepEqual(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')),
      [])
    const checker = program.getTypeChecker()
    const declared = (file) => {
      const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(file))
      const names = new Map()
      for (let symbol of checker.getExportsOfModule(moduleSymbol)) {
        const name = symbol.name
        // A class's own exports include its prototype, which is no export of the module.
        if (name === 'prototype') continue
        if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol)
        names.set(name, (symbol.flags & ts.SymbolFlags.Value) !== 0)
      }
      return names
    }
    const runtime = runtimeExports()
    for (const { base } of ENTRIES) {
      const cjs = declared(path.join(root, `${base}.d.ts`))
      const esm = declared(path.join(root, `${base}.d.mts`))
      const cjsValues = [...cjs].filter(([, isValue]) => isValue).map(([name]) => name)
      assert.deepEqual(cjsValues.sort(), runtime[base].cjs.slice().sort(),
        `${base}.d.ts declares the values module.exports has`)
      const statics = runtime[base].statics
      const missing = [...cjs.keys()].filter((name) => name !== 'default' && !esm.has(name) &&
        !statics.includes(name))
      assert.deepEqual(missing, [], `${base}.d.mts re-exports every name of ${base}.d.ts`)
      assert.ok(esm.has('default'), `${base}.d.mts has a default export`)
      assert.deepEqual([...esm.keys()].filter((name) => !cjs.has(name) && name !== 'default'), [],
        `${base}.d.mts declares nothing of its own`)
      const esmRuntime = runtime[base].esm.filter((name) => name !== 'default').sort()
      const cjsRuntime = runtime[base].cjs
        .filter((name) => name !== 'default' && !statics.includes(name)).sort()
      assert.deepEqual(esmRuntime, cjsRuntime, `${base}.mjs exports every name of ${base}.js`)
    }
  })

/** Packs the package into a temporary directory; the tarball's path, or a reason to skip. */
function pack (t) {
  const npm = spawnSync('npm', ['--version'], { encoding: 'utf8' })
  if (npm.status !== 0) return { skip: 'npm is not on PATH' }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmem-pack-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const r = spawnSync('npm', ['pack', '--silent', '--pack-destination', dir],
    { cwd: root, encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  return { tarball: path.join(dir, r.stdout.trim().split('\n').pop()) }
}

function binOf (pkg, name) {
  // Some packages export no ./package.json; then look where npm installs them.
  let manifest = resolveOrNull(`${pkg}/package.json`)
  if (!manifest) {
    manifest = path.join(root, 'node_modules', pkg, 'package.json')
    if (!fs.existsSync(manifest)) return null
  }
  const { bin } = require(manifest)
  return path.join(path.dirname(manifest), typeof bin === 'string' ? bin : bin[name])
}

const attw = binOf('@arethetypeswrong/cli', 'attw')
const publint = binOf('publint', 'publint')

test('arethetypeswrong finds no problem in the packed package, in any resolution mode',
  { skip: attw ? false : '@arethetypeswrong/cli is not installed (a devDependency)' }, (t) => {
    const packed = pack(t)
    if (packed.skip) return t.skip(packed.skip)
    const r = spawnSync(process.execPath, [attw, packed.tarball, '--format', 'json'],
      { encoding: 'utf8' })
    const report = JSON.parse(r.stdout)
    assert.deepEqual(report.problems, {}, JSON.stringify(report.problems, null, 2))
    assert.equal(r.status, 0, r.stderr)
    const entrypoints = report.analysis.entrypoints
    for (const { spec } of ENTRIES) {
      const subpath = spec === 'shmem' ? '.' : `.${spec.slice('shmem'.length)}`
      const resolutions = entrypoints[subpath] && entrypoints[subpath].resolutions
      assert.ok(resolutions, `attw checked ${spec}`)
      for (const mode of ['node10', 'node16-cjs', 'node16-esm', 'bundler']) {
        const resolution = resolutions[mode].resolution
        assert.ok(resolution && resolution.isTypeScript,
          `${spec} resolves to declarations under ${mode}`)
      }
    }
  })

test('publint finds nothing to say about the packed package',
  { skip: publint ? false : 'publint is not installed (a devDependency)' }, (t) => {
    const packed = pack(t)
    if (packed.skip) return t.skip(packed.skip)
    const r = spawnSync(process.execPath, [publint, 'run', packed.tarball, '--strict',
      '--level', 'suggestion'], { encoding: 'utf8' })
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
    assert.match(r.stdout, /All good!/, `${r.stdout}${r.stderr}`)
  })
