// Types for the ESM face of shmem/keyv (keyv.mjs): every export of the CommonJS module as a
// named export, and its module.exports object as the default. Declared once, in keyv.d.ts.

import keyv from './keyv.js'

export default keyv

export * from './keyv.js'
