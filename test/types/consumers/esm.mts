// An ESM consumer under `module: nodenext`, compiled (never run) by test/types.test.js against
// the package as installed: 'shmem' resolves through package.json "exports" to index.d.mts.
import shmem, {
  create, open, sysv, memfd, mapFile, fromFd, Segment, Mutex, Channel, constants,
  type SegmentStat, type SysvStat, type SegmentKind, type StatOf
} from 'shmem'
import sta, {
  get, destroy, create as staCreate, SHMBT_INT32, type ShmMap
} from 'shmem/compat/shm-typed-array'
import mmap, {
  map, advise, incore, sync, PROT_READ, MAP_SHARED, PAGESIZE
} from 'shmem/compat/mmap-io'
import mmap16, { map as map16, unmap, ALLOCATIONGRANULARITY } from 'shmem/compat/mmap-io@1.6'
import MmapIPC, { mmapIPC, type LockAsyncOptions } from 'shmem/compat/mmap-ipc'
import shmmap, { create as shmmapCreate, read, read_write, release } from 'shmem/compat/shmmap'
import keyvFace, { KeyvShmem } from 'shmem/keyv'

// The default export is module.exports: the same functions as the named exports.
const same: typeof create = shmem.create
const posix = create('/types-esm', 4096)
const k1: 'posix' = posix.kind
// stat() narrows by kind: POSIX fields without a cast.
const st: SegmentStat = posix.stat()
const ino: number = posix.stat().ino
// @ts-expect-error a POSIX segment's stat() has no System V fields
void posix.stat().nattch
const v = sysv.create(null, 4096)
const vs: SysvStat = v.stat()
const nattch: number = v.stat().nattch
// @ts-expect-error a System V segment's stat() has no inode
void v.stat().ino
const opened: Segment<'posix'> = open('/types-esm')
const m: Segment<'memfd'> = memfd(4096)
const f: Segment<'file'> = mapFile('/tmp/x', { size: 4096, create: true })
const fd = fromFd(m.fd as number)
const fdStat: SegmentStat = fd.stat()
// A Segment of unknown kind narrows on segment.kind.
function describe (s: Segment): number {
  if (s.kind === 'sysv') return (s as Segment<'sysv'>).stat().nattch  // kind does not narrow s
  const x: SegmentStat | SysvStat = s.stat()
  return x.size
}
const anyKind: StatOf<SegmentKind> = v.stat()
// Narrowed segments are still Segments for everything that takes one.
const mutex = Mutex.init(posix, 128)
const ch = Channel.init(v, 0, 4096, { capacity: 1024, kind: 'spsc' })
const flags: number = constants.PROT_READ

const arr: ShmMap['Int32Array'] | null = staCreate(16, 'Int32Array')
const got = get(1234, 'Float64Array')
const gone: boolean = destroy(1234)
const t: 6 = SHMBT_INT32
const staSame: typeof get = sta.get
const buf: Buffer = map(PAGESIZE, PROT_READ, MAP_SHARED, 0)
advise(buf, mmap.MADV_RANDOM)
const pages: [number, number] = incore(buf)
sync(buf, true)
const viaDefault: typeof map = mmap.default.map
const ipc: MmapIPC = new mmapIPC('/types-ipc', 4096)
const opts: LockAsyncOptions = { timeout: 10 }
const locked: Promise<boolean> = ipc.acquireWriteLockAsync(opts)
const pair: [string, Buffer] = shmmapCreate(64)
const ro: Buffer = read(pair[0])
const rw: Buffer = read_write(pair[0], 8)
release(pair[0])
const shmmapSame: typeof read = shmmap.read
const store = new KeyvShmem({ name: '/types-keyv', capacity: 16, namespace: 'n' })
const stored: Promise<boolean> = store.set('k', 'v', 1000)
const keyvSame: typeof KeyvShmem = keyvFace.KeyvShmem

void [same, k1, st, ino, vs, nattch, opened, m, f, fdStat, describe, anyKind, mutex, ch, flags,
  arr, got, gone, t, staSame, pages, viaDefault, locked, ro, rw, shmmapSame,
  stored, keyvSame]

// mmap-io 1.6: map() gives a SharedArrayBuffer; unmap() and ALLOCATIONGRANULARITY are there.
const sab16: SharedArrayBuffer = map16(4096, mmap16.PROT_READ, mmap16.MAP_SHARED, 0)
// @ts-expect-error 1.6's map() is no Buffer
const notBuffer: Buffer = map16(4096, mmap16.PROT_READ, mmap16.MAP_SHARED, 0)
void [sab16, notBuffer, unmap(sab16), ALLOCATIONGRANULARITY]
