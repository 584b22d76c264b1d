// ESM face of shmem/compat/mmap-io: the same objects as the CommonJS module, each by name,
// and its module.exports as the default. Node's import of a CommonJS file finds only the
// names its lexer can see in the source, which misses some here; this file names them all.
import { createRequire } from 'module'

const require = createRequire(import.meta.url)
const mmap = require('./mmap-io.js')

export const {
  map, advise, sync, incore, unmap, PROT_READ, PROT_WRITE, PROT_EXEC, PROT_EXECUTE, PROT_NONE,
  MAP_SHARED, MAP_PRIVATE, MAP_NONBLOCK, MAP_POPULATE, MADV_NORMAL, MADV_RANDOM,
  MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED, PAGESIZE, ALLOCATIONGRANULARITY
} = mmap
export default mmap
