// Types for the ESM face of shmem/compat/mmap-io (mmap-io.mjs): every member of the CommonJS
// module as a named export, and the module object as the default. Declared once, in
// mmap-io.d.ts.

import mmap from './mmap-io.js'

export default mmap

export {
  map, advise, incore, sync, unmap, PROT_READ, PROT_WRITE, PROT_EXEC, PROT_EXECUTE, PROT_NONE,
  MAP_SHARED, MAP_PRIVATE, MAP_NONBLOCK, MAP_POPULATE, MADV_NORMAL, MADV_RANDOM,
  MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED, PAGESIZE, ALLOCATIONGRANULARITY
} from './mmap-io.js'

export type { FileDescriptor } from './mmap-io.js'
