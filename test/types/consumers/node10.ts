// A consumer under `module: commonjs`, `moduleResolution: node10` and no esModuleInterop,
// compiled (never run) by test/types.test.js: 'shmem' resolves through package.json "types"
// (node10 reads no "exports"), and the compat paths by file name.
import * as shmem from 'shmem'
import { create, sysv, Segment } from 'shmem'
import shmem2 = require('shmem')
// @ts-expect-error index.js has no default export; without esModuleInterop this would throw
import shmemDefault from 'shmem'
import { get, destroy } from 'shmem/compat/shm-typed-array'
import * as mmap from 'shmem/compat/mmap-io'
import mmap16 = require('shmem/compat/mmap-io@1.6')
import MmapIPC = require('shmem/compat/mmap-ipc')
import { create as shmmapCreate } from 'shmem/compat/shmmap'
import { KeyvShmem } from 'shmem/keyv'

const s: Segment<'posix'> = create('/types-node10', 4096)
const ino: number = s.stat().ino
const nattch: number = sysv.create(null, 4096).stat().nattch
const same: typeof create = shmem.create
const same2: typeof create = shmem2.create
const got = get(1, 'Buffer')
const gone: boolean = destroy(1)
const buf: Buffer = mmap.map(4096, mmap.PROT_READ, mmap.MAP_SHARED, 0)
const ipc = new MmapIPC('/types-ipc', 4096)
const pair: [string, Buffer] = shmmapCreate(64)
const store: KeyvShmem = new KeyvShmem({ name: '/types-keyv' })

void [mmap16.map(4096, mmap16.PROT_READ, mmap16.MAP_SHARED, 0), shmemDefault, ino, nattch, same, same2, got, gone, buf, ipc, pair, store]
