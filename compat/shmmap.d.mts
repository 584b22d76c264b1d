// Types for the ESM face of shmem/compat/shmmap (shmmap.mjs): every export of the CommonJS
// module as a named export, and its module.exports object as the default. Declared once, in
// shmmap.d.ts.

import shmmap from './shmmap.js'

export default shmmap

export * from './shmmap.js'
