// Compiled (never run) by test/types.test.js with `tsc --noEmit --strict`: every public API
// used as the README shows it, so that index.d.ts and the compat declarations stay in step.
import shmem, {
  create, open, openOrCreate, unlink, memfd, fromFd, mapFile, sysv, map, constants, pageSize,
  Segment, Mutex, RwLock, Semaphore, wait, waitAsync, notify, AbortError, Channel, gc, list,
  LockResult, SharedMap
} from '../../index'
import sta = require('../../compat/shm-typed-array')
import mmapIo = require('../../compat/mmap-io')
import MmapIPC = require('../../compat/mmap-ipc')
import shmmap = require('../../compat/shmmap')
import { KeyvShmem, KeyvShmemOptions } from '../../keyv'

async function main (): Promise<void> {
  const seg: Segment = create('/types-example', 4096, { mode: 0o600, autoUnlink: true })
  const again: Segment = openOrCreate('/types-example', 4096)
  const created: boolean = again.created
  const buf: Buffer = seg.buffer
  const words: Int32Array = seg.view(Int32Array, 0, 16)
  const sab: SharedArrayBuffer = seg.sharedArrayBuffer
  const sharedWords: Int32Array = seg.view(Int32Array, 0, 16, { shared: true })
  const dv: DataView = seg.view(DataView, 64, 8)
  seg.advise('willneed')
  seg.sync({ async: true })
  const res: { residentPages: number, totalPages: number } = seg.residency()
  const locked: boolean = seg.lock('exclusive', { timeout: 10 })
  const tried: boolean = seg.tryLock('shared')
  const later: boolean = await seg.lockAsync('shared', { signal: AbortSignal.timeout(10) })
  seg.unlock()

  const m: Mutex = Mutex.init(seg, 128)
  const r1: boolean | 'recovered' = m.lock({ timeout: 5 })
  const r2: LockResult = m.tryLock()
  m.unlock()
  const n: number = await m.withLock(async (how) => (how === 'recovered' ? 1 : 2))
  // fn runs only with the lock held: its result is never false.
  const heldInFn: true | 'recovered' = m.withLockSync((how) => how)
  const s: string = m.withLockSync(() => 'x')
  const rw: RwLock = RwLock.attach(seg, 256)
  const r3: boolean | 'recovered' = await rw.writeLockAsync()
  rw.unlock()
  const sem: Semaphore = Semaphore.init(seg, 2048, 1)
  const r4: boolean = sem.wait()
  const r5: boolean = await sem.waitAsync({ timeout: 5 })
  sem.post(2)
  const value: number = sem.value

  // No failure is truthy: `if (m.tryLock())` narrows to the held results inside the branch,
  // and to false outside it.
  const tried2 = m.tryLock()
  if (tried2) {
    const held: true | 'recovered' = tried2
    // @ts-expect-error 'recovered' is held too: the branch is not only `true`
    const onlyTrue: true = tried2
    void [held, onlyTrue]
    m.unlock()
  } else {
    const busy: false = tried2
    // @ts-expect-error a failed acquire is not held
    const wronglyHeld: true | 'recovered' = tried2
    void [busy, wronglyHeld]
  }
  const waited = await rw.readLockAsync({ timeout: 5 })
  if (!waited) {
    const timedOut: false = waited
    void timedOut
  }
  // @ts-expect-error an acquire that may fail is not a held lock until it is tested
  const unchecked: true | 'recovered' = rw.tryWriteLock()
  // @ts-expect-error no acquire answers with a string for a failure any more
  if (m.tryLock() === 'busy') m.unlock()
  const fileHeld = seg.tryLock('exclusive')
  if (fileHeld) {
    const yes: true = fileHeld
    void yes
  }

  const w1: 'ok' | 'not-equal' | 'timed-out' = wait(words, 0, 0, 1)
  const w2: 'ok' | 'not-equal' | 'timed-out' = await waitAsync(words, 0, 0, 1)
  const woken: number = notify(words, 0)
  const isAbort: boolean = new Error() instanceof AbortError

  const ch: Channel = Channel.create('/types-channel', { capacity: 65536, kind: 'mpsc' })
  const sent: boolean = ch.send('hello')
  const got: Buffer | null = ch.receive()
  const later2: Buffer | null = await ch.receiveAsync({ timeout: 10 })
  for await (const message of ch) { const b: Buffer = message; break }
  ch.close()

  const cache: SharedMap<string> = SharedMap.create('/types-map', { encoding: 'utf8', ttl: 1000 })
  cache.set('k', 'v', { ttl: 50 }).set(Buffer.from('k2'), 'w')
  const hit: string | undefined = cache.get('k')
  const counted: number = cache.increment('n', 2)
  cache.update('k', (old) => (old ?? '') + '!')
  for (const [k, val] of cache) { const ks: string | Buffer = k; const vs: string = val; void [ks, vs] }
  const mst: number = cache.stats().hits + cache.size + cache.getInto('k', Buffer.alloc(8))
  const objects = SharedMap.openOrCreate('/types-map-json', { capacity: 10 })
  objects.set('o', { any: 'thing' })
  const bytes: SharedMap<Buffer> = SharedMap.create('/types-map-b', { encoding: 'buffer' })
  const bb: Buffer | undefined = bytes.get('x')
  cache.close()
  void [hit, counted, mst, bb]

  const entries = list()
  const removed = gc({ dryRun: true })
  const mf: Segment = memfd(4096, { seal: true })
  const fd: Segment = fromFd(mf.fd as number)
  const file: Segment = mapFile('/tmp/x', { size: 4096, create: true })
  const v: Segment = sysv.create(null, 4096)
  const raw: Buffer = map(4096, constants.PROT_READ | constants.PROT_WRITE,
    constants.MAP_SHARED | constants.MAP_ANONYMOUS, -1)
  const page: number = pageSize + shmem.pageSize
  const o: Segment = open('/types-example', { readOnly: true })
  const gone: boolean = unlink('/types-example')

  const arr = sta.create(16, 'Int32Array')
  const key = shmmap.create(64)
  const keyvOptions: KeyvShmemOptions = { name: '/types-keyv', capacity: 100, ttl: 1000,
    namespace: 'cache', autoUnlink: true }
  const store = new KeyvShmem(keyvOptions)
  const keyvHit: unknown = await store.get('k')
  const many: boolean[] = await store.setMany([{ key: 'a', value: 1, ttl: 5 }])
  for await (const [k, value] of store.iterator('cache')) void [k, value]
  const storeMap: SharedMap = store.map
  await store.disconnect()
  const ipc = new MmapIPC('/types-ipc', 4096, false)
  const mapped: Buffer = mmapIo.map(4096, mmapIo.PROT_READ, mmapIo.MAP_SHARED, 0)
  void [created, buf, dv, res, locked, tried, later, r1, r2, n, heldInFn, unchecked, s, r3, r4,
    r5, value, w1, w2, woken, isAbort, sent, got, later2, entries, removed, fd, file, v, raw, page, o, gone, arr, key, ipc,
    mapped, keyvHit, many, storeMap]
}
void main
