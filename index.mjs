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
  gc,
  list,
  constants,
  pageSize,
  hugePageSize,
  Segment,
  Mutex,
  RwLock,
  Semaphore,
  wait,
  waitAsync,
  notify,
  AbortError,
  Channel,
  SharedMap
} = shmem
export default shmem
