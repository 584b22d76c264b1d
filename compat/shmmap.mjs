// ESM face of shmem/compat/shmmap: the same objects as the CommonJS module, each by name,
// and its module.exports as the default. Node's import of a CommonJS file finds only the
// names its lexer can see in the source, which misses some here; this file names them all.
import { createRequire } from 'module'

const require = createRequire(import.meta.url)
const shmmap = require('./shmmap.js')

export const {
  create, read, read_write, release, transfer
} = shmmap
export default shmmap
