// Types for the ESM face of shmem/compat/shm-typed-array (shm-typed-array.mjs): every export
// of the CommonJS module as a named export, and its module.exports object as the default.
// Declared once, in shm-typed-array.d.ts.

import shm from './shm-typed-array.js'

export default shm

export * from './shm-typed-array.js'
