// Types for the ESM face of shmem/compat/mmap-io@1.6 (mmap-io@1.6.mjs): every member of the
// CommonJS module as a named export, and the module object as the default. Declared once, in
// mmap-io@1.6.d.ts.

import mmap from './mmap-io@1.6.js'

export default mmap

export {
  map, advise, incore, sync, unmap, PROT_READ, PROT_WRITE, PROT_EXEC, PROT_EXECUTE, PROT_NONE,
  MAP_SHARED, MAP_PRIVATE, MAP_NONBLOCK, MAP_POPULATE, MADV_NORMAL, MADV_RANDOM,
  MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED, PAGESIZE, ALLOCATIONGRANULARITY
} from './mmap-io@1.6.js'

export type { FileDescriptor, MmapBuffer } from './mmap-io@1.6.js'
