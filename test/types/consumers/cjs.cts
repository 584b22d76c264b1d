// A CommonJS consumer under `module: nodenext`, compiled (never run) by test/types.test.js:
// 'shmem' resolves through package.json "exports" ("require") to index.d.ts.
import shmem = require('shmem')
import sta = require('shmem/compat/shm-typed-array')
import mmap = require('shmem/compat/mmap-io')
import mmap16 = require('shmem/compat/mmap-io@1.6')
import MmapIPC = require('shmem/compat/mmap-ipc')
import shmmap = require('shmem/compat/shmmap')
import keyv = require('shmem/keyv')

const posix = shmem.create('/types-cjs', 4096)
const ino: number = posix.stat().ino
const nattch: number = shmem.sysv.open(1234).stat().nattch
const stat: shmem.SegmentStat = shmem.memfd(4096).stat()
// @ts-expect-error module.exports has no default property
void shmem.default
const arr = sta.create(16, 'Uint8Array')
const buf: Buffer = mmap.map(4096, mmap.PROT_READ, mmap.MAP_SHARED, 0)
const viaDefault: typeof mmap.map = mmap.default.map
const sab: SharedArrayBuffer = mmap16.map(4096, mmap16.PROT_READ, mmap16.MAP_SHARED, 0)
const unmapped: boolean = mmap16.unmap(sab)
const granularity: number = mmap16.ALLOCATIONGRANULARITY
const ipc: MmapIPC = new MmapIPC.mmapIPC('/types-ipc', 4096)
const alsoIpc: MmapIPC = new MmapIPC.default('/types-ipc', 4096)
const opts: MmapIPC.LockAsyncOptions = { timeout: 1 }
const key: string = shmmap.create(64)[0]
const store = new keyv.KeyvShmem({ map: shmem.SharedMap.open('/types-keyv') })
const cleared: Promise<void> = store.clear()

void [sab, unmapped, granularity, ino, nattch, stat, arr, buf, viaDefault, ipc, alsoIpc, opts, key,
  cleared]
