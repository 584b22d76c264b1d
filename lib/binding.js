'use strict'
// Loads the native addon: a prebuilt binary for this platform when the package ships one,
// else the one `npm install` built.

const path = require('path')

const root = path.resolve(__dirname, '..')
const candidates = [
  path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'shmem.node'),
  path.join(root, 'build', 'Release', 'shmem.node'),
  path.join(root, 'build', 'Debug', 'shmem.node')
]

function load () {
  const failures = []
  for (const file of candidates) {
    try {
      return require(file)
    } catch (err) {
      if (err.code !== 'MODULE_NOT_FOUND') failures.push(`${file}: ${err.message}`)
    }
  }
  const err = new Error('shmem: the native addon could not be loaded. ' +
    (failures.length ? failures.join('; ') : 'It is not built: run `npm run build` in ' + root))
  err.code = 'ERR_SHMEM_ADDON'
  throw err
}

module.exports = load()
