// Compiled (never run) by test/types.test.js with `tsc --noEmit --strict`: every public API
// used as the README shows it, so that index.d.ts and the compat declarations stay in step.
import shmem, {
  create, open, openOrCreate, unlink, memfd, fromFd, mapFile, sysv, map, constants, pageSize,
  Segment, Mutex, RwLock, Semaphore, wait, waitAsync, notify, AbortError, Channel, gc, list,
  SharedMap
} from '../../index'
import sta = require('../../compat/shm-typed-array')
import mmapIo = require('../../compat/mmap-io')
import MmapIPC = require('../../compat/mmap-ipc')
import shmmap = require('../../compat/shmmap')

async function main (): Promise<void> {
  const seg: Segment = create('/types-example', 4096, { mode: 0o600, autoUnlink: true })
  const again: Segment = openOrCreate('/types-example', 4096)
  const created: boolean = again.created
  const buf: Buffer = seg.buffer
  const words: Int32Array = seg.view(Int32Array, 0, 16)
  const dv: DataView = seg.view(DataView, 64, 8)
  seg.advise('willneed')
  seg.sync({ async: true })
  const res: { residentPages: number, totalPages: number } = seg.residency()
  const locked: 'ok' | 'timed-out' = seg.lock('exclusive', { timeout: 10 })
  const tried: boolean = seg.tryLock('shared')
  const later: 'ok' | 'timed-out' = await seg.lockAsync('shared', { signal: AbortSignal.timeout(10) })
  seg.unlock()

  const m: Mutex = Mutex.init(seg, 128)
  const r1: 'ok' | 'recovered' | 'timed-out' = m.lock({ timeout: 5 })
  const r2: 'ok' | 'recovered' | 'busy' = m.tryLock()
  m.unlock()
  const n: number = await m.withLock(async (how) => (how === 'recovered' ? 1 : 2))
  const s: string = m.withLockSync(() => 'x')
  const rw: RwLock = RwLock.attach(seg, 256)
  const r3: 'ok' | 'recovered' | 'timed-out' = await rw.writeLockAsync()
  rw.unlock()
  const sem: Semaphore = Semaphore.init(seg, 2048, 1)
  const r4: 'ok' | 'timed-out' = sem.wait()
  sem.post(2)
  const value: number = sem.value
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
  const ipc = new MmapIPC('/types-ipc', 4096, false)
  const mapped: Buffer = mmapIo.map(4096, mmapIo.PROT_READ, mmapIo.MAP_SHARED, 0)
  void [created, buf, dv, res, locked, tried, later, r1, r2, n, s, r3, r4, value, w1, w2, woken,
    isAbort, sent, got, later2, entries, removed, fd, file, v, raw, page, o, gone, arr, key, ipc,
    mapped]
}
void main
