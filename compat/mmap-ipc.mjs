// ESM face of shmem/compat/mmap-ipc: the same objects as the CommonJS module, each by name,
// and its module.exports as the default. Node's import of a CommonJS file finds only the
// names its lexer can see in the source, which misses some here; this file names them all.
import { createRequire } from 'module'

const require = createRequire(import.meta.url)
const mmapIPCModule = require('./mmap-ipc.js')

// module.exports is the class itself, which is also its own property mmapIPC.
export const { mmapIPC } = mmapIPCModule
export default mmapIPCModule
