// ESM face of shmem/compat/shm-typed-array: the same objects as the CommonJS module, each by name,
// and its module.exports as the default. Node's import of a CommonJS file finds only the
// names its lexer can see in the source, which misses some here; this file names them all.
import { createRequire } from 'module'

const require = createRequire(import.meta.url)
const shm = require('./shm-typed-array.js')

export const {
  create, createPosix, get, getPosix, detach, detachPosix, destroy, detachAll, getTotalSize,
  getTotalCreatedSize, BufferType, LengthMax, SHMBT_BUFFER, SHMBT_INT8, SHMBT_UINT8,
  SHMBT_UINT8CLAMPED, SHMBT_INT16, SHMBT_UINT16, SHMBT_INT32, SHMBT_UINT32, SHMBT_FLOAT32,
  SHMBT_FLOAT64
} = shm
export default shm
