'use strict'
// The ESM faces: `import` of the package and of each compat module, by name through
// package.json "exports", gives every name the CommonJS module exports, as the very same
// objects, and module.exports as the default. Each check runs in a child process (the package
// resolves itself by name from its own directory).
const test = require('node:test')
const assert = require('node:assert')
const path = require('path')
const { spawnSync } = require('child_process')

const root = path.join(__dirname, '..')
const SPECIFIERS = ['shmem', 'shmem/keyv', 'shmem/compat/shm-typed-array', 'shmem/compat/mmap-io',
  'shmem/compat/mmap-ipc', 'shmem/compat/shmmap']

function runModule (source) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', source],
    { cwd: root, encoding: 'utf8', timeout: 30000 })
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
  return r.stdout
}

for (const specifier of SPECIFIERS) {
  test(`import '${specifier}' has every CommonJS export by name, the same objects`, () => {
    const out = runModule(`
      import { createRequire } from 'module'
      import * as esm from '${specifier}'
      const cjs = createRequire(${JSON.stringify(path.join(root, 'package.json'))})('${specifier}')
      const names = Object.keys(cjs).filter((name) => name !== 'default')
      console.log(JSON.stringify({
        cjs: names,
        esm: Object.keys(esm).filter((name) => name !== 'default'),
        different: names.filter((name) => esm[name] !== cjs[name]),
        defaultIsModuleExports: esm.default === cjs
      }))`)
    const r = JSON.parse(out)
    assert.ok(r.cjs.length > 0)
    assert.deepEqual(r.esm.slice().sort(), r.cjs.slice().sort())
    assert.deepEqual(r.different, [])
    assert.equal(r.defaultIsModuleExports, true)
  })
}

test('the named imports the issue reported missing link statically', () => {
  const out = runModule(`
    import { get, destroy } from 'shmem/compat/shm-typed-array'
    import { map, advise, incore, sync, PROT_READ, PROT_WRITE, PROT_EXEC, PROT_EXECUTE, PROT_NONE,
      MAP_SHARED, MAP_PRIVATE, MAP_NONBLOCK, MAP_POPULATE, MADV_NORMAL, MADV_RANDOM,
      MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED, PAGESIZE } from 'shmem/compat/mmap-io'
    import mmapIPCDefault, { mmapIPC } from 'shmem/compat/mmap-ipc'
    import { create, read, read_write, release } from 'shmem/compat/shmmap'
    import shmem, { create as createSegment, Segment, sysv } from 'shmem'
    const functions = [get, destroy, map, advise, incore, sync, mmapIPC, create, read, read_write,
      release, createSegment, Segment, sysv.create]
    const numbers = [PROT_READ, PROT_WRITE, PROT_EXEC, PROT_EXECUTE, PROT_NONE, MAP_SHARED,
      MAP_PRIVATE, MAP_NONBLOCK, MAP_POPULATE, MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL,
      MADV_WILLNEED, MADV_DONTNEED, PAGESIZE]
    console.log(functions.every((f) => typeof f === 'function'),
      numbers.every((n) => Number.isInteger(n)), mmapIPCDefault === mmapIPC,
      shmem.create === createSegment)`)
  assert.equal(out.trim(), 'true true true true')
})
