// Types for the ESM face of shmem/compat/mmap-ipc (mmap-ipc.mjs): the class as the default
// export and as the named export mmapIPC. Declared once, in mmap-ipc.d.ts.

import mmapIPC from './mmap-ipc.js'

export default mmapIPC

export { mmapIPC } from './mmap-ipc.js'
export type { LockAsyncOptions } from './mmap-ipc.js'
