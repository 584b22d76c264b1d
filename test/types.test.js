'use strict'
// index.d.ts and the compat declarations type-check a use of every public API
// (test/types/usage.ts) under `tsc --strict`. Skips, saying why, where TypeScript is absent.
const test = require('node:test')
const assert = require('node:assert')
const path = require('path')
const { spawnSync } = require('child_process')

let tsc = null
try {
  tsc = require.resolve('typescript/bin/tsc')
} catch {}

test('the type declarations compile against a use of every public API',
  { skip: tsc ? false : 'typescript is not installed (a devDependency)' }, () => {
    const r = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022',
      '--module', 'commonjs', '--moduleResolution', 'node', '--esModuleInterop',
      '--types', 'node', '--lib', 'es2022', path.join(__dirname, 'types', 'usage.ts')],
    { encoding: 'utf8' })
    assert.equal(r.status, 0, `tsc found errors:\n${r.stdout}${r.stderr}`)
  })
