// ESM face of shmem/keyv: the same objects as the CommonJS module, each by name, and its
// module.exports as the default.
import { createRequire } from 'module'

const require = createRequire(import.meta.url)
const keyv = require('./keyv.js')

export const { KeyvShmem } = keyv
export default keyv
