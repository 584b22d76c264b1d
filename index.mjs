// ESM face of the package: the same objects as the CommonJS entry point.
import { createRequire } from 'module'

const require = createRequire(import.meta.url)
const shmem = require('./index.js')

export const {
  create,
  open,
  openOrCreate,
  unlink,
  memfd,
  fromFd,
  mapFile,
  sysv,
  map,
  constants,
  pageSize,
  hugePageSize,
  Segment,
  Channel
} = shmem
export default shmem
