'use strict'
// Locks inside a segment: Mutex, RwLock, Semaphore. Exclusion across processes and worker
// threads (exact totals of a plain read-then-write counter), readers that really overlap,
// recovery from a holder that was killed (kill -9) or whose worker thread ended, the async
// forms (the loop keeps running; timeouts; AbortSignal), ownership, and garbage in the
// segment (attach() must refuse it, never crash).

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { shmem, uniqueName, trackPosix, cleanup, runNode, fixture } = require('./helpers')
const { startChild, startWorker, delay } = require('./fixtures/lock-harness')

after(cleanup)

const { Mutex, RwLock, Semaphore } = shmem

// A POSIX segment with a unique name, closed and removed when the test ends.
function namedSegment (t, size = 65536) {
  const name = trackPosix(uniqueName('lk'))
  const seg = shmem.create(name, size)
  t.after(() => {
    seg.close()
    try { shmem.unlink(name) } catch {}
  })
  return { seg, name }
}

const code = (c, Base) => (err) => {
  if (Base !== undefined) assert.ok(err instanceof Base, `${err} is not a ${Base.name}`)
  assert.equal(err.code, c, err.message)
  return true
}
const isAbort = (err) => {
  assert.equal(err.name, 'AbortError')
  assert.equal(err.code, 'ABORT_ERR')
  return true
}

// A worker thread that takes a lock of `kind` at offset 0 of segment `name` and holds it
// until told 'release' (or ends, holding it, when told 'exit').
function holderWorker (t, name, kind) {
  return startWorker(t, `
    const seg = shmem.open(workerData.name)
    const C = { mutex: shmem.Mutex, read: shmem.RwLock, write: shmem.RwLock, sem: shmem.Semaphore }
    const lock = C[workerData.kind].attach(seg, 0)
    const r = workerData.kind === 'mutex' ? lock.lock()
      : workerData.kind === 'read' ? lock.readLock()
        : workerData.kind === 'write' ? lock.writeLock() : lock.wait()
    parentPort.postMessage({ held: r })
    parentPort.on('message', (m) => {
      if (m === 'release') {
        if (workerData.kind === 'sem') lock.post()
        else lock.unlock()
        parentPort.postMessage({ released: true })
      } else if (m === 'exit') {
        parentPort.close()
        process.exit(0) // ends the thread with the lock still held
      } else if (m === 'unlock-mine') {
        try { lock.unlock(); parentPort.postMessage({ unlocked: true }) } catch (err) {
          parentPort.postMessage({ code: err.code })
        }
      }
    })
  `, { name, kind })
}

// ---------------------------------------------------------------------------------------
// Shape and arguments

test('sizes and alignment are exported', () => {
  assert.equal(Mutex.byteLength, 64)
  assert.equal(Mutex.alignment, 8)
  assert.equal(RwLock.byteLength, 1088)
  assert.equal(RwLock.alignment, 8)
  assert.equal(RwLock.maxReaders, 64)
  assert.equal(typeof Semaphore.byteLength, 'number')
  assert.ok(Semaphore.byteLength >= 8 && Semaphore.byteLength % 8 === 0)
  assert.equal(Semaphore.alignment, 8)
})

test('init and attach check their arguments', (t) => {
  const { seg, name } = namedSegment(t, 4096)
  for (const C of [Mutex, RwLock, Semaphore]) {
    assert.throws(() => C.init({}, 0), code('ERR_INVALID_ARG_TYPE', TypeError))
    assert.throws(() => C.attach(null, 0), code('ERR_INVALID_ARG_TYPE', TypeError))
    assert.throws(() => C.init(seg, 4), code('ERR_OUT_OF_RANGE', RangeError))
    assert.throws(() => C.init(seg, 12), code('ERR_OUT_OF_RANGE', RangeError))
    assert.throws(() => C.init(seg, -8), code('ERR_OUT_OF_RANGE', RangeError))
    assert.throws(() => C.init(seg, 4096 - C.byteLength + 8), code('ERR_OUT_OF_RANGE', RangeError))
    assert.throws(() => C.attach(seg, 4096), code('ERR_OUT_OF_RANGE', RangeError))
    assert.throws(() => C.init(seg, 'x'),
      (err) => err instanceof TypeError || err instanceof RangeError)
    assert.throws(() => new C(), TypeError)
    // The last place a lock fits is fine.
    C.init(seg, 4096 - C.byteLength)
    C.attach(seg, 4096 - C.byteLength)
  }
  assert.throws(() => Semaphore.init(seg, 0, -1), code('ERR_OUT_OF_RANGE', RangeError))
  assert.throws(() => Semaphore.init(seg, 0, 2 ** 31), code('ERR_OUT_OF_RANGE', RangeError))

  const ro = shmem.open(name, { readOnly: true })
  t.after(() => ro.close())
  assert.throws(() => Mutex.attach(ro, 0), code('ERR_SHMEM_UNSUPPORTED'))
  assert.throws(() => RwLock.init(ro, 0), code('ERR_SHMEM_UNSUPPORTED'))

  const gone = shmem.open(name)
  gone.close()
  assert.throws(() => Mutex.init(gone, 0), code('ERR_SHMEM_CLOSED'))
})

test('attach() refuses zeros, another kind, and a lock closed under it', (t) => {
  const { seg } = namedSegment(t, 8192)
  for (const C of [Mutex, RwLock, Semaphore]) {
    assert.throws(() => C.attach(seg, 2048), code('ERR_SHMEM_BAD_STATE'))
  }
  Mutex.init(seg, 0)
  assert.throws(() => RwLock.attach(seg, 0), code('ERR_SHMEM_BAD_STATE'))
  assert.throws(() => Semaphore.attach(seg, 0), code('ERR_SHMEM_BAD_STATE'))
  RwLock.init(seg, 1024)
  assert.throws(() => Mutex.attach(seg, 1024), code('ERR_SHMEM_BAD_STATE'))
  Semaphore.init(seg, 4096, 3)
  assert.throws(() => Mutex.attach(seg, 4096), code('ERR_SHMEM_BAD_STATE'))
  // Attached ones work; once the segment is closed they throw ERR_SHMEM_CLOSED.
  const m = Mutex.attach(seg, 0)
  const s = Semaphore.attach(seg, 4096)
  assert.equal(s.value, 3)
  seg.close()
  assert.throws(() => m.lock(), code('ERR_SHMEM_CLOSED'))
  assert.throws(() => m.tryLock(), code('ERR_SHMEM_CLOSED'))
  assert.throws(() => s.post(), code('ERR_SHMEM_CLOSED'))
})

test('a lock shows no internals: no own properties, only the documented API', (t) => {
  const { seg } = namedSegment(t, 8192)
  const locks = [Mutex.init(seg, 0), RwLock.init(seg, 1024), Semaphore.init(seg, 4096, 1)]
  for (const lock of locks) {
    assert.deepEqual(Object.keys(lock), [])
    assert.deepEqual(Object.getOwnPropertyNames(lock), [])
    for (const name of ['view', 'handle', 'base', 'segment', 'what', 'words', 'sleep']) {
      assert.equal(lock[name], undefined, `${lock.constructor.name}.${name}`)
    }
  }
  // The messages of the lock errors, as the registry in lib/errors.js makes them.
  const m = locks[0]
  m.lock()
  assert.throws(() => m.lock(), {
    code: 'ERR_SHMEM_WOULD_DEADLOCK',
    message: 'This thread already holds the Mutex: waiting for it without a timeout would ' +
      'block this thread for good (locks are not recursive)'
  })
  m.unlock()
  assert.throws(() => m.unlock(), { message: 'This thread does not hold the Mutex' })
  assert.throws(() => Mutex.attach(seg, 2048), {
    code: 'ERR_SHMEM_BAD_STATE',
    message: /^The Mutex failed validation: wrong magic number \(no valid lock state/
  })
  assert.throws(() => Mutex.init(seg, 4), {
    code: 'ERR_OUT_OF_RANGE',
    message: 'The value of "offset" is out of range. It must be a multiple of 8. Received 4'
  })
})

test('attach() on random bytes: ERR_SHMEM_BAD_STATE, in this process', (t) => {
  const { seg } = namedSegment(t, 4096)
  const bytes = seg.buffer
  let refused = 0
  for (let round = 0; round < 300; round++) {
    for (let k = 0; k < 1088; k++) bytes[k] = (Math.random() * 256) | 0
    for (const C of [Mutex, RwLock, Semaphore]) {
      assert.throws(() => C.attach(seg, 0), code('ERR_SHMEM_BAD_STATE'))
      refused++
    }
  }
  assert.equal(refused, 900)
})

test('attach() on random bytes never crashes: 6000 rounds in a child that exits 0', async () => {
  const r = await runNode(fixture('lock-fuzz.js'),
    [JSON.stringify({ rounds: 6000, seed: (process.pid * 2654435761) >>> 0 })])
  assert.equal(r.stderr, '')
  assert.equal(r.signal, null)
  assert.equal(r.code, 0, r.stdout)
  const m = /^ok (\d+) (\d+) (\d+)\n$/.exec(r.stdout)
  assert.ok(m, r.stdout)
  assert.equal(Number(m[1]), 6000)
  assert.ok(Number(m[2]) > 1000, 'most garbage is refused with ERR_SHMEM_BAD_STATE')
  assert.ok(Number(m[3]) > 0, 'garbage behind a valid header reached the lock operations')
})

test('a garbage owner start time: ERR_SHMEM_BAD_STATE (or a takeover), not an internal RangeError',
  (t) => {
    // Shared memory is untrusted input. Here the owner word names a thread that does not
    // exist, and the record beside it (tid, start lo, start hi) holds a start time past
    // 2^53. Taking the lock over, or refusing the bytes with ERR_SHMEM_BAD_STATE, are both
    // fine; a RangeError about an argument "start" the caller never passed is not.
    const { seg } = namedSegment(t, 4096)
    const ok = (fn) => {
      try {
        const r = fn()
        assert.ok([true, 'recovered', false].includes(r), String(r))
      } catch (err) {
        assert.equal(err.code, 'ERR_SHMEM_BAD_STATE', `${err.name} ${err.code}: ${err.message}`)
      }
    }
    const words = seg.view(Int32Array, 0, 64)
    Mutex.init(seg, 0)
    const dead = 4194303 // above any pid_max in use, below the 2^22 limit: never a live thread
    words[3] = dead
    words[4] = dead
    words[5] = 1
    words[6] = 0x7fffffff
    ok(() => Mutex.attach(seg, 0).tryLock())
    ok(() => Mutex.attach(seg, 0).lock({ timeout: 250 }))

    const rw = RwLock.init(seg, 1024)
    const rwords = seg.view(Int32Array, 1024, 1088 / 4)
    rwords[16] = dead // reader slot 0: [tid, start lo, start hi, reserved]
    rwords[17] = 1
    rwords[18] = 0x7fffffff
    assert.equal(rw.readers, 1)
    ok(() => RwLock.attach(seg, 1024).tryWriteLock())
  })

// ---------------------------------------------------------------------------------------
// Mutex in one process

test('Mutex: lock, tryLock, unlock, locked; not recursive; non-owner unlock', (t) => {
  const { seg } = namedSegment(t, 4096)
  const m = Mutex.init(seg, 64)
  assert.equal(m.locked, false)
  assert.equal(m.recoveries, 0)
  assert.throws(() => m.unlock(), code('ERR_SHMEM_NOT_OWNER'))
  assert.equal(m.lock(), true)
  assert.equal(m.locked, true)
  // A second object over the same bytes sees the same lock, and the same owner (this thread).
  const again = Mutex.attach(seg, 64)
  assert.equal(again.locked, true)
  assert.equal(again.tryLock(), false)
  assert.throws(() => again.lock(), code('ERR_SHMEM_WOULD_DEADLOCK'))
  assert.throws(() => m.lock({}), code('ERR_SHMEM_WOULD_DEADLOCK'))
  assert.equal(m.lock({ timeout: 20 }), false)
  assert.equal(m.lock({ timeout: 0 }), false)
  again.unlock() // ownership is the thread's, not the object's
  assert.equal(m.locked, false)
  assert.throws(() => m.unlock(), code('ERR_SHMEM_NOT_OWNER'))
  assert.equal(m.tryLock(), true)
  m.unlock()
  assert.equal(m.recoveries, 0)
})

test('bad options are refused while the lock is held, and also while it is free', (t) => {
  const { seg } = namedSegment(t, 4096)
  const m = Mutex.init(seg, 0)
  const rw = RwLock.init(seg, 1024)
  const s = Semaphore.init(seg, 64, 0)
  const calls = {
    'Mutex.lock': (o) => m.lock(o),
    'RwLock.readLock': (o) => rw.readLock(o),
    'RwLock.writeLock': (o) => rw.writeLock(o),
    'Semaphore.wait': (o) => s.wait(o)
  }
  const release = {
    'Mutex.lock': () => m.unlock(),
    'RwLock.readLock': () => rw.unlock(),
    'RwLock.writeLock': () => rw.unlock(),
    'Semaphore.wait': () => {}
  }
  const bad = [
    [{ timeout: -1 }, 'ERR_OUT_OF_RANGE'],
    [{ timeout: NaN }, 'ERR_OUT_OF_RANGE'],
    [{ timeout: '1' }, 'ERR_INVALID_ARG_TYPE'],
    [5, 'ERR_INVALID_ARG_TYPE'],
    ['x', 'ERR_INVALID_ARG_TYPE']
  ]
  for (const free of [false, true]) {
    // Held (by this thread; the Semaphore at 0) versus free (the Semaphore at 1).
    if (!free) {
      m.lock()
      rw.writeLock()
    } else {
      s.post()
    }
    for (const [what, call] of Object.entries(calls)) {
      for (const [options, c] of bad) {
        let got
        assert.throws(() => { got = call(options) }, (err) => err.code === c,
          `${what}(${JSON.stringify(options)}) with the lock ${free ? 'free' : 'held'}`)
        if (got) release[what]()
      }
    }
    if (!free) {
      m.unlock()
      rw.unlock()
    }
  }
})

test('Mutex: withLockSync returns fn\'s value and unlocks when fn throws', (t) => {
  const { seg } = namedSegment(t, 4096)
  const m = Mutex.init(seg, 0)
  assert.deepEqual(m.withLockSync((r) => { assert.equal(m.locked, true); return { r } }), { r: true })
  assert.equal(m.locked, false)
  assert.throws(() => m.withLockSync(() => { throw new Error('boom') }), /boom/)
  assert.equal(m.locked, false)
  assert.throws(() => m.withLockSync(42), code('ERR_INVALID_ARG_TYPE', TypeError))
  assert.equal(m.tryLock(), true)
  m.unlock()
})

test('Mutex: withLock (async) passes the result, unlocks on throw, excludes tasks of one thread',
  async (t) => {
    const { seg } = namedSegment(t, 4096)
    const m = Mutex.init(seg, 0)
    assert.equal(await m.withLock(async (r) => { assert.equal(m.locked, true); return r }), true)
    assert.equal(m.locked, false)
    await assert.rejects(m.withLock(async () => { await delay(1); throw new Error('inner') }),
      /inner/)
    assert.equal(m.locked, false)
    await assert.rejects(m.withLock('nope'), code('ERR_INVALID_ARG_TYPE', TypeError))
    // Five tasks of this thread: each holds the lock across an await; never two at once.
    let inside = 0
    let most = 0
    const order = []
    await Promise.all([0, 1, 2, 3, 4].map((k) => m.withLock(async () => {
      inside++
      most = Math.max(most, inside)
      await delay(3)
      order.push(k)
      inside--
    })))
    assert.equal(most, 1)
    assert.equal(order.length, 5)
    assert.equal(m.locked, false)
  })

test('Mutex: another thread holds it: busy, timeouts, NOT_OWNER for this thread', async (t) => {
  const { seg, name } = namedSegment(t, 4096)
  const m = Mutex.init(seg, 0)
  const w = holderWorker(t, name, 'mutex')
  assert.deepEqual(await w.next(), { held: true })
  assert.equal(m.locked, true)
  assert.equal(m.tryLock(), false)
  assert.equal(m.lock({ timeout: 30 }), false)
  assert.equal(await m.lockAsync({ timeout: 30 }), false)
  assert.equal(await m.lockAsync({ timeout: 0 }), false)
  assert.throws(() => m.unlock(), code('ERR_SHMEM_NOT_OWNER'))
  assert.equal(m.locked, true, 'a refused unlock leaves the lock held')
  w.post('release')
  assert.deepEqual(await w.next(), { released: true })
  assert.equal(m.tryLock(), true)
  // And the worker may not release the main thread's lock.
  w.post('unlock-mine')
  assert.deepEqual(await w.next(), { code: 'ERR_SHMEM_NOT_OWNER' })
  assert.equal(m.locked, true)
  m.unlock()
})

test('Mutex: unlock from another process gives ERR_SHMEM_NOT_OWNER', async (t) => {
  const { seg, name } = namedSegment(t, 4096)
  const m = Mutex.init(seg, 0)
  assert.equal(m.lock(), true)
  const c = startChild(t, { op: 'unlock', kind: 'mutex', name, offset: 0 })
  await c.expect('Error ERR_SHMEM_NOT_OWNER')
  assert.equal((await c.finish()).code, 0)
  assert.equal(m.locked, true)
  const c2 = startChild(t, { op: 'try', kind: 'mutex', name, offset: 0 })
  await c2.expect('false')
  m.unlock()
  const c3 = startChild(t, { op: 'unlock', kind: 'mutex', name, offset: 0 })
  await c3.expect('Error ERR_SHMEM_NOT_OWNER')
  // The same for a RwLock, held for writing and then for reading here.
  const rw = RwLock.init(seg, 1024)
  assert.equal(rw.writeLock(), true)
  const c4 = startChild(t, { op: 'unlock', kind: 'rwlock', name, offset: 1024 })
  await c4.expect('Error ERR_SHMEM_NOT_OWNER')
  assert.equal(rw.writeLocked, true)
  rw.unlock()
  assert.equal(rw.readLock(), true)
  const c5 = startChild(t, { op: 'unlock', kind: 'read', name, offset: 1024 })
  await c5.expect('Error ERR_SHMEM_NOT_OWNER')
  assert.equal(rw.readers, 1)
  rw.unlock()
})

test('Mutex: lockAsync keeps the event loop running while it waits', async (t) => {
  const { seg, name } = namedSegment(t, 4096)
  const m = Mutex.init(seg, 0)
  // Held by another thread: only a timer of this loop tells it to let go.
  const w = holderWorker(t, name, 'mutex')
  assert.deepEqual(await w.next(), { held: true })
  let ticks = 0
  const timer = setInterval(() => { if (++ticks === 5) w.post('release') }, 5)
  t.after(() => clearInterval(timer))
  const r = await m.lockAsync()
  clearInterval(timer)
  assert.equal(r, true)
  assert.ok(ticks >= 5, `the interval fired ${ticks} times`)
  m.unlock()

  // Held by this very thread: lockAsync waits for another task of this thread to unlock.
  assert.equal(m.lock(), true)
  let ticks2 = 0
  const timer2 = setInterval(() => { if (++ticks2 === 3) m.unlock() }, 5)
  t.after(() => clearInterval(timer2))
  assert.equal(await m.lockAsync({ timeout: 10000 }), true)
  clearInterval(timer2)
  assert.ok(ticks2 >= 3)
  assert.equal(m.locked, true)
  m.unlock()
})

test('Mutex: lockAsync with an AbortSignal rejects with AbortError', async (t) => {
  const { seg, name } = namedSegment(t, 4096)
  const m = Mutex.init(seg, 0)
  const w = holderWorker(t, name, 'mutex')
  assert.deepEqual(await w.next(), { held: true })
  const ac = new AbortController()
  const p = m.lockAsync({ signal: ac.signal })
  setTimeout(() => ac.abort(), 20)
  await assert.rejects(p, isAbort)
  await assert.rejects(m.lockAsync({ signal: ac.signal }), isAbort) // already aborted
  await assert.rejects(m.lockAsync({ signal: AbortSignal.timeout(10), timeout: 5000 }), isAbort)
  await assert.rejects(m.lockAsync({ signal: {} }), code('ERR_INVALID_ARG_TYPE', TypeError))
  // An abort leaves nothing behind: the lock is the worker's until it lets go, then ours.
  assert.equal(m.tryLock(), false)
  w.post('release')
  await w.next()
  assert.equal(await m.lockAsync({ signal: new AbortController().signal }), true)
  m.unlock()
  // A signal that fires after the lock was taken changes nothing.
  const late = new AbortController()
  assert.equal(await m.lockAsync({ signal: late.signal }), true)
  late.abort()
  assert.equal(m.locked, true)
  m.unlock()
})

test('Mutex: closing the segment rejects a pending lockAsync with ERR_SHMEM_CLOSED', async (t) => {
  const name = trackPosix(uniqueName('lk'))
  const seg = shmem.create(name, 4096)
  t.after(() => { seg.close(); try { shmem.unlink(name) } catch {} })
  const m = Mutex.init(seg, 0)
  assert.equal(m.lock(), true)
  const p = m.lockAsync()
  setTimeout(() => seg.close(), 20)
  await assert.rejects(p, code('ERR_SHMEM_CLOSED'))
})

// ---------------------------------------------------------------------------------------
// Exclusion across processes and threads: exact totals

const PROCS = 3
const ITER = 20000

async function countInChildren (t, kind, setup) {
  const { seg, name } = namedSegment(t, 4096)
  setup(seg)
  const counter = seg.view(Int32Array, 2048, 1)
  const children = []
  for (let k = 0; k < PROCS; k++) {
    children.push(startChild(t, {
      op: 'count', kind, name, offset: 0, counterOffset: 2048, iterations: ITER
    }))
  }
  for (const c of children) await c.expect('ready')
  for (const c of children) c.send('go') // all at once, so that they contend
  for (const c of children) await c.expect('done 0', 60000)
  for (const c of children) assert.equal((await c.finish()).code, 0)
  assert.equal(counter[0], PROCS * ITER)
}

test(`Mutex: ${PROCS} processes x ${ITER} increments of a plain counter: exact total`,
  (t) => countInChildren(t, 'mutex', (seg) => Mutex.init(seg, 0)))

test(`RwLock (write): ${PROCS} processes x ${ITER} increments: exact total`,
  (t) => countInChildren(t, 'rwlock', (seg) => RwLock.init(seg, 0)))

test(`Semaphore(1): ${PROCS} processes x ${ITER} increments: exact total`,
  (t) => countInChildren(t, 'sem', (seg) => Semaphore.init(seg, 0, 1)))

test('Mutex: 2 worker threads and the main thread x 20000 increments (async in main)',
  async (t) => {
    const { seg, name } = namedSegment(t, 4096)
    const m = Mutex.init(seg, 0)
    const counter = seg.view(Int32Array, 1024, 1)
    const go = seg.view(Int32Array, 1536, 1)
    const body = `
      const seg = shmem.open(workerData.name)
      const m = shmem.Mutex.attach(seg, 0)
      const counter = seg.view(Int32Array, 1024, 1)
      const go = seg.view(Int32Array, 1536, 1)
      parentPort.postMessage('ready')
      while (Atomics.load(go, 0) === 0) shmem.wait(go, 0, 0, 1000)
      for (let k = 0; k < 20000; k++) {
        m.lock()
        const c = counter[0]
        counter[0] = c + 1
        m.unlock()
      }
      parentPort.postMessage('done')
    `
    const ws = [startWorker(t, body, { name }), startWorker(t, body, { name })]
    for (const w of ws) assert.equal(await w.next(), 'ready')
    Atomics.store(go, 0, 1)
    shmem.notify(go, 0)
    for (let k = 0; k < 2000; k++) {
      assert.equal(await m.lockAsync(), true)
      const c = counter[0]
      await null // another task of this thread runs here; no other thread may
      counter[0] = c + 1
      m.unlock()
    }
    for (const w of ws) assert.equal(await w.next(), 'done')
    assert.equal(counter[0], 2 * 20000 + 2000)
  })

test('RwLock: readers in two processes hold read locks at the same time; writers wait',
  async (t) => {
    const { seg, name } = namedSegment(t, 4096)
    const rw = RwLock.init(seg, 0)
    const flags = seg.view(Int32Array, 2048, 2)
    const spec = { op: 'overlap', kind: 'read', name, offset: 0, flagsOffset: 2048 }
    const a = startChild(t, { ...spec, me: 0 })
    const b = startChild(t, { ...spec, me: 1 })
    // Each saw the other's flag while holding its own read lock.
    await a.expect('overlap true')
    await b.expect('overlap true')
    assert.deepEqual([flags[0], flags[1]], [1, 1])
    assert.equal(rw.readers, 2)
    assert.equal(rw.writeLocked, false)
    assert.equal(rw.tryWriteLock(), false)
    assert.equal(rw.writeLock({ timeout: 30 }), false)
    assert.equal(rw.writeLocked, false, 'a writer that timed out leaves no trace')
    assert.equal(rw.tryReadLock(), true, 'a third reader joins')
    rw.unlock()
    const p = rw.writeLockAsync({ timeout: 10000 })
    await delay(20)
    a.send('release')
    await a.expect('released')
    b.send('release')
    await b.expect('released')
    assert.equal(await p, true)
    assert.equal(rw.writeLocked, true)
    assert.equal(rw.readers, 0)
    rw.unlock()
  })

test('RwLock: a writer keeps readers of another process out until it unlocks', async (t) => {
  const { seg, name } = namedSegment(t, 4096)
  const rw = RwLock.init(seg, 0)
  assert.equal(rw.writeLock(), true)
  const probe = startChild(t, { op: 'try', kind: 'read', name, offset: 0 })
  await probe.expect('false')
  const probe2 = startChild(t, { op: 'try', kind: 'write', name, offset: 0 })
  await probe2.expect('false')
  const reader = startChild(t, { op: 'hold', kind: 'read', name, offset: 0, waitGo: true })
  await reader.expect('ready')
  reader.send('go')
  // The reader is now waiting; it must not get the lock while this writer holds it.
  await assert.rejects(reader.line(300), /no line/)
  rw.unlock()
  await reader.expect('held true')
  assert.equal(rw.readers, 1)
  assert.equal(rw.tryWriteLock(), false)
  reader.send('release')
  await reader.expect('released')
  assert.equal(rw.tryWriteLock(), true)
  rw.unlock()
})

// ---------------------------------------------------------------------------------------
// RwLock in one process

test('RwLock: read locks stack, unlock releases one at a time; not recursive for writers',
  (t) => {
    const { seg } = namedSegment(t, 4096)
    const rw = RwLock.init(seg, 0)
    assert.throws(() => rw.unlock(), code('ERR_SHMEM_NOT_OWNER'))
    assert.equal(rw.readLock(), true)
    assert.equal(rw.tryReadLock(), true)
    assert.equal(rw.readers, 2)
    assert.throws(() => rw.writeLock(), code('ERR_SHMEM_WOULD_DEADLOCK'))
    assert.equal(rw.writeLocked, false, 'the refused writer gave its word back')
    assert.equal(rw.writeLock({ timeout: 20 }), false)
    assert.equal(rw.writeLocked, false)
    assert.equal(rw.tryWriteLock(), false)
    rw.unlock()
    assert.equal(rw.readers, 1)
    rw.unlock()
    assert.equal(rw.readers, 0)
    assert.throws(() => rw.unlock(), code('ERR_SHMEM_NOT_OWNER'))

    assert.equal(rw.writeLock(), true)
    assert.equal(rw.writeLocked, true)
    assert.throws(() => rw.readLock(), code('ERR_SHMEM_WOULD_DEADLOCK'))
    assert.throws(() => rw.writeLock(), code('ERR_SHMEM_WOULD_DEADLOCK'))
    assert.equal(rw.readLock({ timeout: 10 }), false)
    assert.equal(rw.tryReadLock(), false)
    assert.equal(rw.tryWriteLock(), false)
    rw.unlock()
    assert.equal(rw.writeLocked, false)
    assert.throws(() => rw.unlock(), code('ERR_SHMEM_NOT_OWNER'))
    // A read lock taken through another object over the same bytes is released by this one.
    assert.equal(RwLock.attach(seg, 0).readLock(), true)
    rw.unlock()
    assert.equal(rw.readers, 0)
  })

test('RwLock: more than maxReaders readers wait for a slot', (t) => {
  const { seg } = namedSegment(t, 4096)
  const rw = RwLock.init(seg, 0)
  for (let k = 0; k < RwLock.maxReaders; k++) assert.equal(rw.tryReadLock(), true)
  assert.equal(rw.readers, RwLock.maxReaders)
  assert.equal(rw.tryReadLock(), false)
  assert.equal(rw.readLock({ timeout: 20 }), false)
  rw.unlock()
  assert.equal(rw.tryReadLock(), true)
  for (let k = 0; k < RwLock.maxReaders; k++) rw.unlock()
  assert.equal(rw.readers, 0)
})

test('RwLock: readLockAsync / writeLockAsync keep the loop running, time out, abort', async (t) => {
  const { seg, name } = namedSegment(t, 4096)
  const rw = RwLock.init(seg, 0)

  // A writer (another thread) holds it: readers and writers wait.
  const w = holderWorker(t, name, 'write')
  assert.deepEqual(await w.next(), { held: true })
  assert.equal(await rw.readLockAsync({ timeout: 20 }), false)
  assert.equal(await rw.writeLockAsync({ timeout: 20 }), false)
  let ac = new AbortController()
  let p = rw.readLockAsync({ signal: ac.signal })
  setTimeout(() => ac.abort(), 10)
  await assert.rejects(p, isAbort)
  ac = new AbortController()
  p = rw.writeLockAsync({ signal: ac.signal })
  setTimeout(() => ac.abort(), 10)
  await assert.rejects(p, isAbort)
  await assert.rejects(rw.readLockAsync({ signal: ac.signal }), isAbort)
  await assert.rejects(rw.writeLockAsync({ signal: ac.signal }), isAbort)
  let ticks = 0
  const timer = setInterval(() => { if (++ticks === 3) w.post('release') }, 5)
  t.after(() => clearInterval(timer))
  assert.equal(await rw.readLockAsync(), true)
  clearInterval(timer)
  assert.ok(ticks >= 3)
  await w.next()
  rw.unlock()

  // A reader (another thread) holds it: a writer waits for it to leave, and an abort of that
  // wait gives the writer word back (readers may enter again).
  const r = holderWorker(t, name, 'read')
  assert.deepEqual(await r.next(), { held: true })
  assert.equal(await rw.writeLockAsync({ timeout: 20 }), false)
  assert.equal(rw.writeLocked, false)
  ac = new AbortController()
  p = rw.writeLockAsync({ signal: ac.signal })
  await delay(10)
  assert.equal(rw.writeLocked, true, 'the waiting writer holds the word and drains readers')
  ac.abort()
  await assert.rejects(p, isAbort)
  assert.equal(rw.writeLocked, false)
  assert.equal(rw.tryReadLock(), true)
  rw.unlock()
  let ticks2 = 0
  const timer2 = setInterval(() => { if (++ticks2 === 3) r.post('release') }, 5)
  t.after(() => clearInterval(timer2))
  assert.equal(await rw.writeLockAsync(), true)
  clearInterval(timer2)
  assert.ok(ticks2 >= 3)
  rw.unlock()
})

test('RwLock: withReadLock / withWriteLock', async (t) => {
  const { seg } = namedSegment(t, 4096)
  const rw = RwLock.init(seg, 0)
  assert.equal(await rw.withReadLock(async (r) => { assert.equal(rw.readers, 1); return r }), true)
  assert.equal(rw.readers, 0)
  assert.equal(await rw.withWriteLock((r) => { assert.equal(rw.writeLocked, true); return r }),
    true)
  assert.equal(rw.writeLocked, false)
  await assert.rejects(rw.withWriteLock(() => { throw new Error('w') }), /w/)
  assert.equal(rw.writeLocked, false)
  await assert.rejects(rw.withReadLock(async () => { throw new Error('r') }), /r/)
  assert.equal(rw.readers, 0)
  // Two readers of this thread overlap.
  let both = false
  await Promise.all([
    rw.withReadLock(async () => { await delay(10); both = rw.readers === 2 }),
    rw.withReadLock(async () => { await delay(10) })
  ])
  assert.equal(both, true)
  assert.equal(rw.readers, 0)
})

test('RwLock: a task of this thread holds a read lock while another waits to write', async (t) => {
  // Async code does this all the time: one task reads, another wants to write. The writer
  // waits (it holds the writer word and waits for readers to leave); the reader's unlock()
  // must release the read lock it holds, not the write lock this thread does not hold yet.
  const { seg } = namedSegment(t, 4096)
  const rw = RwLock.init(seg, 0)
  assert.equal(await rw.readLockAsync(), true)
  const wp = rw.writeLockAsync({ timeout: 1500 })
  await delay(10)
  assert.equal(rw.readers, 1)
  rw.unlock() // the read lock: the only lock this thread holds
  const readersAfter = rw.readers
  const r = await wp
  assert.equal(readersAfter, 0, 'unlock() released the read lock')
  assert.equal(r, true)
  assert.equal(rw.writeLocked, true)
  rw.unlock()
  assert.equal(rw.writeLocked, false)
})

test('RwLock: withReadLock and withWriteLock in tasks of one thread: the writer goes last',
  async (t) => {
    const { seg } = namedSegment(t, 4096)
    const rw = RwLock.init(seg, 0)
    const order = []
    const opts = { timeout: 2000 }
    const results = await Promise.allSettled([
      rw.withReadLock(async () => { await delay(10); order.push('r1') }, opts),
      rw.withReadLock(async () => { await delay(10); order.push('r2') }, opts),
      (async () => { await delay(2); await rw.withWriteLock(() => order.push('w'), opts) })()
    ])
    for (const r of results) assert.equal(r.status, 'fulfilled', String(r.reason && r.reason.stack))
    assert.deepEqual(order.slice().sort(), ['r1', 'r2', 'w'])
    assert.equal(order[2], 'w')
    assert.equal(rw.readers, 0)
    assert.equal(rw.writeLocked, false)
  })

// ---------------------------------------------------------------------------------------
// Semaphore

test('Semaphore: counts, tryWait, wait with timeout, post, overflow', (t) => {
  const { seg } = namedSegment(t, 4096)
  const s = Semaphore.init(seg, 0, 2)
  assert.equal(s.value, 2)
  assert.equal(s.tryWait(), true)
  assert.equal(s.wait(), true)
  assert.equal(s.tryWait(), false)
  assert.equal(s.value, 0)
  assert.equal(s.wait({ timeout: 20 }), false)
  assert.equal(s.wait({ timeout: 0 }), false)
  s.post()
  s.post(3)
  assert.equal(s.value, 4)
  assert.equal(Semaphore.attach(seg, 0).value, 4)
  assert.throws(() => s.post(0), code('ERR_OUT_OF_RANGE', RangeError))
  assert.throws(() => s.post(-1), code('ERR_OUT_OF_RANGE', RangeError))
  assert.throws(() => s.post(1.5), (err) => err instanceof RangeError || err instanceof TypeError)
  assert.equal(Semaphore.init(seg, 64).value, 0, 'initialCount defaults to 0')
  const full = Semaphore.init(seg, 128, 2 ** 31 - 1)
  assert.throws(() => full.post(), code('ERR_OUT_OF_RANGE', RangeError))
  assert.equal(full.value, 2 ** 31 - 1)
  const nearly = Semaphore.init(seg, 192, 2 ** 31 - 3)
  assert.throws(() => nearly.post(3), code('ERR_OUT_OF_RANGE', RangeError))
  nearly.post(2)
  assert.equal(nearly.value, 2 ** 31 - 1)
})

test('Semaphore: waitAsync keeps the loop running, times out, aborts', async (t) => {
  const { seg } = namedSegment(t, 4096)
  const s = Semaphore.init(seg, 0, 0)
  assert.equal(await s.waitAsync({ timeout: 20 }), false)
  assert.equal(await s.waitAsync({ timeout: 0 }), false)
  let ticks = 0
  const timer = setInterval(() => { if (++ticks === 3) s.post() }, 5)
  t.after(() => clearInterval(timer))
  assert.equal(await s.waitAsync(), true)
  clearInterval(timer)
  assert.ok(ticks >= 3)
  assert.equal(s.value, 0)
  const ac = new AbortController()
  const p = s.waitAsync({ signal: ac.signal })
  setTimeout(() => ac.abort(), 10)
  await assert.rejects(p, isAbort)
  await assert.rejects(s.waitAsync({ signal: ac.signal }), isAbort)
  s.post()
  assert.equal(s.value, 1, 'an aborted wait took nothing')
  assert.equal(await s.waitAsync({ signal: new AbortController().signal }), true)
})

test('Semaphore: a post from this process wakes a wait() in another', async (t) => {
  const { seg, name } = namedSegment(t, 4096)
  const s = Semaphore.init(seg, 0, 0)
  const c = startChild(t, { op: 'hold', kind: 'sem', name, offset: 0, waitGo: true })
  await c.expect('ready')
  c.send('go')
  await assert.rejects(c.line(200), /no line/)
  s.post()
  await c.expect('held true')
  assert.equal(s.value, 0)
  c.send('release') // the child posts
  await c.expect('released')
  assert.equal(s.value, 1)
})

// ---------------------------------------------------------------------------------------
// Recovery: a holder that dies never keeps the lock for good

test('Mutex: kill -9 of the holder, 100 times: each next lock() returns recovered within 1 s',
  async (t) => {
    const { seg, name } = namedSegment(t, 4096)
    const m = Mutex.init(seg, 0)
    const ROUNDS = 100
    const AHEAD = 3
    const pool = []
    let started = 0
    const spawnOne = () => {
      started++
      pool.push(startChild(t, { op: 'hold', kind: 'mutex', name, offset: 0, waitGo: true }))
    }
    while (started < Math.min(AHEAD, ROUNDS)) spawnOne()
    const t0 = performance.now()
    for (let round = 0; round < ROUNDS; round++) {
      const c = pool.shift()
      if (started < ROUNDS) spawnOne()
      await c.expect('ready')
      c.send('go')
      await c.expect('held true')
      assert.equal(m.locked, true)
      c.kill('SIGKILL')
      const { signal } = await c.exited
      assert.equal(signal, 'SIGKILL')
      const r = m.lock({ timeout: 1000 })
      assert.equal(r, 'recovered', `round ${round}`)
      assert.equal(m.recoveries, round + 1)
      m.unlock()
    }
    t.diagnostic(`${ROUNDS} rounds in ${Math.round(performance.now() - t0)} ms`)
    assert.equal(m.tryLock(), true)
    m.unlock()
  })

test('Mutex: kill -9 of the holder while this thread blocks in lock() at once (not yet reaped)',
  async (t) => {
    // The killed child stays a zombie until this process reaps it, and this process cannot
    // reap it (libuv does so on its loop) while it blocks in lock(). A zombie holds nothing:
    // a dead holder must never keep the lock, whoever is slow to reap it.
    const { seg, name } = namedSegment(t, 4096)
    const m = Mutex.init(seg, 0)
    const c = startChild(t, { op: 'hold', kind: 'mutex', name, offset: 0 })
    await c.expect('held true')
    c.kill('SIGKILL')
    const r = m.lock({ timeout: 1000 })
    if (r) m.unlock()
    assert.equal(r, 'recovered')
  })

test('Mutex: kill -9 of the holder during lockAsync: recovered within 1 s', async (t) => {
  const { seg, name } = namedSegment(t, 4096)
  const m = Mutex.init(seg, 0)
  const c = startChild(t, { op: 'hold', kind: 'mutex', name, offset: 0 })
  await c.expect('held true')
  const p = m.lockAsync({ timeout: 1500 })
  await delay(20)
  c.kill('SIGKILL')
  const t0 = performance.now()
  assert.equal(await p, 'recovered')
  t.diagnostic(`recovered ${Math.round(performance.now() - t0)} ms after the kill`)
  assert.equal(m.recoveries, 1)
  m.unlock()
  assert.equal(m.tryLock(), true)
  m.unlock()
})

test('Mutex: tryLock takes over from a dead holder', async (t) => {
  const { seg, name } = namedSegment(t, 4096)
  const m = Mutex.init(seg, 0)
  const c = startChild(t, { op: 'hold', kind: 'mutex', name, offset: 0 })
  await c.expect('held true')
  assert.equal(m.tryLock(), false)
  c.kill('SIGKILL')
  await c.exited
  assert.equal(m.tryLock(), 'recovered')
  assert.equal(m.tryLock(), false)
  m.unlock()
})

test('Mutex: a worker thread that ends holding the lock: next lock() recovered within 1 s',
  async (t) => {
    const { seg, name } = namedSegment(t, 4096)
    const m = Mutex.init(seg, 0)
    // Ends by itself (process.exit() in the worker ends its thread).
    const w = holderWorker(t, name, 'mutex')
    assert.deepEqual(await w.next(), { held: true })
    assert.equal(m.tryLock(), false)
    w.post('exit')
    assert.equal(await w.exited, 0)
    assert.equal(m.lock({ timeout: 1000 }), 'recovered')
    assert.equal(m.recoveries, 1)
    m.unlock()
    // Terminated from outside.
    const w2 = holderWorker(t, name, 'mutex')
    assert.deepEqual(await w2.next(), { held: true })
    await w2.worker.terminate()
    assert.equal(await m.lockAsync({ timeout: 1000 }), 'recovered')
    assert.equal(m.recoveries, 2)
    m.unlock()
    // A worker whose code simply runs to the end.
    const w3 = startWorker(t, `
      const m = shmem.Mutex.attach(shmem.open(workerData.name), 0)
      parentPort.postMessage(m.lock())
    `, { name })
    assert.equal(await w3.next(), true)
    await w3.exited
    assert.equal(m.lock({ timeout: 1000 }), 'recovered')
    m.unlock()
  })

test('RwLock: kill -9 of a writer: the next writer gets recovered within 1 s', async (t) => {
  const { seg, name } = namedSegment(t, 4096)
  const rw = RwLock.init(seg, 0)
  const c = startChild(t, { op: 'hold', kind: 'write', name, offset: 0 })
  await c.expect('held true')
  assert.equal(rw.writeLocked, true)
  c.kill('SIGKILL')
  await c.exited
  assert.equal(rw.writeLock({ timeout: 1000 }), 'recovered')
  assert.equal(rw.recoveries, 1)
  rw.unlock()
  assert.equal(rw.tryReadLock(), true)
  rw.unlock()
})

test('RwLock: kill -9 of a writer: the next reader gets recovered within 1 s', async (t) => {
  const { seg, name } = namedSegment(t, 4096)
  const rw = RwLock.init(seg, 0)
  const c = startChild(t, { op: 'hold', kind: 'write', name, offset: 0 })
  await c.expect('held true')
  c.kill('SIGKILL')
  await c.exited
  assert.equal(await rw.readLockAsync({ timeout: 1000 }), 'recovered')
  assert.equal(rw.readers, 1)
  assert.equal(rw.writeLocked, false)
  rw.unlock()
})

test('RwLock: kill -9 of a reader: a writer then gets the lock within 1 s', async (t) => {
  const { seg, name } = namedSegment(t, 4096)
  const rw = RwLock.init(seg, 0)
  const a = startChild(t, { op: 'hold', kind: 'read', name, offset: 0 })
  const b = startChild(t, { op: 'hold', kind: 'read', name, offset: 0 })
  await a.expect('held true')
  await b.expect('held true')
  assert.equal(rw.readers, 2)
  a.kill('SIGKILL')
  await a.exited
  // One live reader still keeps the writer out.
  assert.equal(rw.writeLock({ timeout: 250 }), false)
  assert.equal(rw.readers, 1, 'the dead reader\'s slot was cleared')
  b.kill('SIGKILL')
  await b.exited
  const r = rw.writeLock({ timeout: 1000 })
  assert.ok(r === true || r === 'recovered', String(r))
  assert.equal(rw.readers, 0)
  rw.unlock()
  // And through the async form.
  const c = startChild(t, { op: 'hold', kind: 'read', name, offset: 0 })
  await c.expect('held true')
  const p = rw.writeLockAsync({ timeout: 1500 })
  await delay(20)
  c.kill('SIGKILL')
  const r2 = await p
  assert.ok(r2 === true || r2 === 'recovered', String(r2))
  rw.unlock()
})

test('RwLock: worker threads that end holding a read or the write lock', async (t) => {
  const { seg, name } = namedSegment(t, 4096)
  const rw = RwLock.init(seg, 0)
  const r = holderWorker(t, name, 'read')
  assert.deepEqual(await r.next(), { held: true })
  r.post('exit')
  await r.exited
  const got = rw.writeLock({ timeout: 1000 })
  assert.ok(got === true || got === 'recovered', String(got))
  rw.unlock()
  const w = holderWorker(t, name, 'write')
  assert.deepEqual(await w.next(), { held: true })
  w.post('exit')
  await w.exited
  assert.equal(rw.writeLock({ timeout: 1000 }), 'recovered')
  rw.unlock()
  assert.equal(rw.readers, 0)
})

// ---------------------------------------------------------------------------------------
// Acquire results: true when held, 'recovered' when taken from a dead holder, false when
// busy or timed out. No failure is truthy, so `if (lock.tryLock())` reads as it should.

// Every acquire of every kind, for a lock of `kind` at `lock`: [name, call] pairs. The
// timed calls wait 20 ms (or not at all) when the lock is not to be had.
function acquires (kind, lock) {
  switch (kind) {
    case 'mutex': return [
      ['tryLock', () => lock.tryLock()],
      ['lock', () => lock.lock({ timeout: 20 })],
      ['lock(timeout 0)', () => lock.lock({ timeout: 0 })],
      ['lockAsync', () => lock.lockAsync({ timeout: 20 })],
      ['lockAsync(timeout 0)', () => lock.lockAsync({ timeout: 0 })]
    ]
    case 'read': return [
      ['tryReadLock', () => lock.tryReadLock()],
      ['readLock', () => lock.readLock({ timeout: 20 })],
      ['readLockAsync', () => lock.readLockAsync({ timeout: 20 })]
    ]
    case 'write': return [
      ['tryWriteLock', () => lock.tryWriteLock()],
      ['writeLock', () => lock.writeLock({ timeout: 20 })],
      ['writeLock(timeout 0)', () => lock.writeLock({ timeout: 0 })],
      ['writeLockAsync', () => lock.writeLockAsync({ timeout: 20 })]
    ]
    case 'sem': return [
      ['wait', () => lock.wait({ timeout: 20 })],
      ['wait(timeout 0)', () => lock.wait({ timeout: 0 })],
      ['waitAsync', () => lock.waitAsync({ timeout: 20 })],
      ['waitAsync(timeout 0)', () => lock.waitAsync({ timeout: 0 })]
    ]
  }
}

test('every acquire returns exactly true when it gets the lock', async (t) => {
  const { seg } = namedSegment(t, 4096)
  const locks = {
    mutex: Mutex.init(seg, 0),
    read: RwLock.init(seg, 1024),
    write: RwLock.attach(seg, 1024),
    sem: Semaphore.init(seg, 64, 0)
  }
  for (const [kind, lock] of Object.entries(locks)) {
    for (const [what, call] of acquires(kind, lock)) {
      if (kind === 'sem') lock.post()
      assert.strictEqual(await call(), true, `${kind} ${what}`)
      if (kind === 'sem') assert.equal(lock.value, 0, `${what} took the unit`)
      else lock.unlock()
    }
  }
  // The untimed forms too, and the with* helpers hand fn the same true.
  assert.strictEqual(locks.mutex.lock(), true)
  locks.mutex.unlock()
  assert.strictEqual(await locks.mutex.lockAsync(), true)
  locks.mutex.unlock()
  assert.strictEqual(locks.mutex.withLockSync((r) => r), true)
  assert.strictEqual(await locks.read.withReadLock((r) => r), true)
  assert.strictEqual(await locks.write.withWriteLock((r) => r), true)
  locks.sem.post()
  assert.strictEqual(locks.sem.wait(), true)
  locks.sem.post()
  assert.strictEqual(await locks.sem.waitAsync(), true)
})

// A worker thread that takes `take` (code over `lock`, the lock of `type` at `offset`),
// reports what it returned, and lets go when told to.
function heldElsewhere (t, name, type, offset, take) {
  return startWorker(t, `
    const lock = shmem[workerData.type].attach(shmem.open(workerData.name), workerData.offset)
    parentPort.postMessage(${take})
    await new Promise((resolve) => parentPort.once('message', resolve))
    lock.unlock()
    parentPort.postMessage('released')
  `, { name, type, offset })
}

test('every acquire returns exactly false when another thread holds the lock', async (t) => {
  const { seg, name } = namedSegment(t, 4096)
  const m = Mutex.init(seg, 0)
  const rw = RwLock.init(seg, 1024)
  const sem = Semaphore.init(seg, 3072, 0) // a count of 0: every unit is held elsewhere
  const mutexHolder = heldElsewhere(t, name, 'Mutex', 0, 'lock.lock()')
  const writer = heldElsewhere(t, name, 'RwLock', 1024, 'lock.writeLock()')
  assert.strictEqual(await mutexHolder.next(), true)
  assert.strictEqual(await writer.next(), true)
  const calls = [
    ...acquires('mutex', m),
    ...acquires('read', rw),
    ...acquires('write', rw),
    ...acquires('sem', sem)
  ]
  for (const [what, call] of calls) {
    const r = await call()
    assert.strictEqual(r, false, what)
    let entered = false
    if (r) entered = true
    assert.equal(entered, false, `if (${what}()) entered its branch with ${String(r)}`)
  }
  assert.equal(rw.writeLocked, true, 'the writers that gave up left the worker its lock')
  assert.equal(rw.readers, 0)
  assert.equal(sem.value, 0)
  // The with* helpers throw ERR_SHMEM_TIMED_OUT rather than run fn without the lock.
  let ran = false
  assert.throws(() => m.withLockSync(() => { ran = true }, { timeout: 20 }),
    code('ERR_SHMEM_TIMED_OUT'))
  await assert.rejects(m.withLock(() => { ran = true }, { timeout: 20 }),
    code('ERR_SHMEM_TIMED_OUT'))
  await assert.rejects(rw.withReadLock(() => { ran = true }, { timeout: 20 }),
    code('ERR_SHMEM_TIMED_OUT'))
  await assert.rejects(rw.withWriteLock(() => { ran = true }, { timeout: 0 }),
    code('ERR_SHMEM_TIMED_OUT'))
  assert.equal(ran, false)
  for (const w of [mutexHolder, writer]) {
    w.post('release')
    assert.equal(await w.next(), 'released')
  }
  // A reader elsewhere keeps writers out, and lets readers in.
  const reader = heldElsewhere(t, name, 'RwLock', 1024, 'lock.readLock()')
  assert.strictEqual(await reader.next(), true)
  for (const [what, call] of acquires('write', rw)) {
    assert.strictEqual(await call(), false, `${what} with a reader elsewhere`)
  }
  assert.strictEqual(rw.tryReadLock(), true, 'readers share')
  rw.unlock()
  reader.post('release')
  assert.equal(await reader.next(), 'released')
})

test('if (lock.tryLock()) in a worker does not enter its branch while the lock is held here',
  async (t) => {
    const { seg, name } = namedSegment(t, 4096)
    const m = Mutex.init(seg, 0)
    const rw = RwLock.init(seg, 1024)
    const s = Semaphore.init(seg, 3072, 0)
    assert.strictEqual(m.lock(), true)
    assert.strictEqual(rw.writeLock(), true)
    const w = startWorker(t, `
      const seg = shmem.open(workerData.name)
      const m = shmem.Mutex.attach(seg, 0)
      const rw = shmem.RwLock.attach(seg, 1024)
      const s = shmem.Semaphore.attach(seg, 3072)
      const entered = []
      if (m.tryLock()) entered.push('tryLock')
      if (m.lock({ timeout: 10 })) entered.push('lock')
      if (await m.lockAsync({ timeout: 10 })) entered.push('lockAsync')
      if (rw.tryReadLock()) entered.push('tryReadLock')
      if (rw.tryWriteLock()) entered.push('tryWriteLock')
      if (rw.readLock({ timeout: 10 })) entered.push('readLock')
      if (await rw.writeLockAsync({ timeout: 10 })) entered.push('writeLockAsync')
      if (s.tryWait()) entered.push('tryWait')
      if (s.wait({ timeout: 10 })) entered.push('wait')
      if (await s.waitAsync({ timeout: 10 })) entered.push('waitAsync')
      parentPort.postMessage(entered)
      // Once they are free, the same tests enter.
      await new Promise((resolve) => parentPort.once('message', resolve))
      const now = []
      if (m.tryLock()) { now.push('tryLock'); m.unlock() }
      if (rw.tryWriteLock()) { now.push('tryWriteLock'); rw.unlock() }
      if (s.wait({ timeout: 1000 })) now.push('wait')
      parentPort.postMessage(now)
    `, { name })
    assert.deepEqual(await w.next(), [])
    m.unlock()
    rw.unlock()
    s.post()
    w.post('go')
    assert.deepEqual(await w.next(), ['tryLock', 'tryWriteLock', 'wait'])
  })

test('every Mutex and RwLock acquire returns \'recovered\' from a holder killed with -9',
  async (t) => {
    const { seg, name } = namedSegment(t, 65536)
    // One lock per acquire method, each held by a child of its own; all killed at once.
    const cases = [
      ['mutex', 'tryLock', (l) => l.tryLock()],
      ['mutex', 'lock', (l) => l.lock({ timeout: 1000 })],
      ['mutex', 'lockAsync', (l) => l.lockAsync({ timeout: 1000 })],
      ['write', 'tryWriteLock', (l) => l.tryWriteLock()],
      ['write', 'writeLock', (l) => l.writeLock({ timeout: 1000 })],
      ['write', 'writeLockAsync', (l) => l.writeLockAsync({ timeout: 1000 })],
      ['write', 'tryReadLock', (l) => l.tryReadLock()],
      ['write', 'readLock', (l) => l.readLock({ timeout: 1000 })],
      ['write', 'readLockAsync', (l) => l.readLockAsync({ timeout: 1000 })]
    ].map(([kind, what, call], k) => {
      const offset = k * 2048
      const lock = kind === 'mutex' ? Mutex.init(seg, offset) : RwLock.init(seg, offset)
      const child = startChild(t, { op: 'hold', kind, name, offset })
      return { kind, what, call, lock, child }
    })
    for (const c of cases) await c.child.expect('held true')
    for (const c of cases) c.child.kill('SIGKILL')
    for (const c of cases) assert.equal((await c.child.exited).signal, 'SIGKILL')
    for (const { what, call, lock } of cases) {
      const r = await call(lock)
      assert.strictEqual(r, 'recovered', what)
      let entered = false
      if (r) entered = true // held: the branch is entered
      assert.equal(entered, true)
      assert.equal(lock.recoveries, 1, what)
      lock.unlock()
      if (/read/i.test(what)) {
        // Every reader hears it until a writer has had the lock (docs/locks.md).
        assert.strictEqual(lock.tryWriteLock(), 'recovered', `a writer after ${what}`)
        lock.unlock()
      }
      // Recovered once: the next acquire is a plain true.
      assert.strictEqual(await call(lock), true, `${what} again`)
      lock.unlock()
    }
  })
