'use strict'
// File locks (flock(2)) on Segments with an fd: segment.lock / tryLock / lockAsync / unlock.
// Two Segments of one name in one process exclude each other as two processes would, and
// waiting for the other one never freezes the process: tryLock says false, a sync lock()
// without a timeout throws ERR_SHMEM_WOULD_DEADLOCK, lockAsync waits with the loop running.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('path')
const { shmem, uniqueName, trackPosix, trackSysv, tempDir, cleanup } = require('./helpers')
const { startChild, startWorker, delay } = require('./fixtures/lock-harness')

after(cleanup)

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

// `count` Segments of one new POSIX name, each opened on its own; all closed and the name
// removed when the test ends.
function segments (t, count = 2) {
  const name = trackPosix(uniqueName('fl'))
  const segs = [shmem.create(name, 4096)]
  for (let k = 1; k < count; k++) segs.push(shmem.open(name))
  t.after(() => {
    for (const s of segs) s.close()
    try { shmem.unlink(name) } catch {}
  })
  return { name, segs }
}

test('file locks check their arguments and the kind of segment', (t) => {
  const { segs: [a] } = segments(t, 1)
  for (const mode of ['x', undefined, 1, 'SHARED', null]) {
    assert.throws(() => a.lock(mode), code('ERR_INVALID_ARG_VALUE', TypeError))
    assert.throws(() => a.tryLock(mode), code('ERR_INVALID_ARG_VALUE', TypeError))
  }
  assert.throws(() => a.lock('shared', { timeout: -1 }), code('ERR_OUT_OF_RANGE', RangeError))
  assert.throws(() => a.lock('shared', { timeout: 'soon' }),
    code('ERR_INVALID_ARG_TYPE', TypeError))
  assert.throws(() => a.unlock(), code('ERR_SHMEM_NOT_OWNER'))
  assert.equal(a.fileLock, null)

  const sv = shmem.sysv.create(null, 4096)
  trackSysv(sv.key)
  t.after(() => { try { sv.remove() } catch {} sv.close() })
  assert.throws(() => sv.lock('shared'), code('ERR_SHMEM_UNSUPPORTED'))
  assert.throws(() => sv.tryLock('exclusive'), code('ERR_SHMEM_UNSUPPORTED'))
  assert.equal(sv.fileLock, null)
})

test('lockAsync rejects bad arguments, System V segments and closed segments', async (t) => {
  const { segs: [a] } = segments(t, 1)
  await assert.rejects(a.lockAsync('x'), code('ERR_INVALID_ARG_VALUE', TypeError))
  await assert.rejects(a.lockAsync('shared', { signal: 'no' }),
    code('ERR_INVALID_ARG_TYPE', TypeError))
  await assert.rejects(a.lockAsync('shared', { timeout: -5 }), code('ERR_OUT_OF_RANGE', RangeError))
  const sv = shmem.sysv.create(null, 4096)
  trackSysv(sv.key)
  t.after(() => { try { sv.remove() } catch {} sv.close() })
  await assert.rejects(sv.lockAsync('shared'), code('ERR_SHMEM_UNSUPPORTED'))
  const closed = shmem.memfd(4096)
  closed.close()
  assert.throws(() => closed.lock('shared'), code('ERR_SHMEM_CLOSED'))
  assert.throws(() => closed.tryLock('shared'), code('ERR_SHMEM_CLOSED'))
  assert.throws(() => closed.unlock(), code('ERR_SHMEM_CLOSED'))
  await assert.rejects(closed.lockAsync('shared'), code('ERR_SHMEM_CLOSED'))
})

test('one Segment: lock, unlock, fileLock, relock in the other mode', (t) => {
  const { segs: [a] } = segments(t, 1)
  assert.equal(a.lock('exclusive'), true)
  assert.equal(a.fileLock, 'exclusive')
  a.unlock()
  assert.equal(a.fileLock, null)
  assert.throws(() => a.unlock(), code('ERR_SHMEM_NOT_OWNER'))
  assert.equal(a.tryLock('shared'), true)
  assert.equal(a.fileLock, 'shared')
  assert.equal(a.lock('exclusive', { timeout: 100 }), true) // nobody else: an upgrade
  assert.equal(a.fileLock, 'exclusive')
  assert.equal(a.tryLock('shared'), true) // and down again
  assert.equal(a.fileLock, 'shared')
  a.unlock()
  assert.equal(a.fileLock, null)
})

test('two Segments of one name in one process exclude each other without freezing', async (t) => {
  const { segs: [a, b] } = segments(t, 2)
  assert.equal(a.tryLock('exclusive'), true)
  assert.equal(b.tryLock('exclusive'), false)
  assert.equal(b.tryLock('shared'), false)
  assert.equal(b.fileLock, null)
  assert.throws(() => b.lock('exclusive'), code('ERR_SHMEM_WOULD_DEADLOCK'))
  assert.throws(() => b.lock('shared'), code('ERR_SHMEM_WOULD_DEADLOCK'))
  assert.equal(b.lock('exclusive', { timeout: 30 }), false)
  assert.equal(b.lock('shared', { timeout: 0 }), false)
  assert.equal(b.fileLock, null)

  // lockAsync waits while the loop runs: only a timer of this loop lets go of a's lock.
  let ticks = 0
  const timer = setInterval(() => { if (++ticks === 5) a.unlock() }, 5)
  t.after(() => clearInterval(timer))
  const r = await b.lockAsync('exclusive')
  clearInterval(timer)
  assert.equal(r, true)
  assert.ok(ticks >= 5, `the interval fired ${ticks} times`)
  assert.equal(a.fileLock, null)
  assert.equal(b.fileLock, 'exclusive')
  assert.equal(a.tryLock('shared'), false)
  b.unlock()
  assert.equal(a.tryLock('shared'), true)
  a.unlock()
})

test('shared locks of one process coexist; an exclusive one waits for all of them', async (t) => {
  const { segs: [a, b, c] } = segments(t, 3)
  assert.equal(a.tryLock('shared'), true)
  assert.equal(b.lock('shared'), true) // no conflict: no deadlock error either
  assert.equal(c.tryLock('exclusive'), false)
  assert.throws(() => c.lock('exclusive'), code('ERR_SHMEM_WOULD_DEADLOCK'))
  const p = c.lockAsync('exclusive', { timeout: 5000 })
  a.unlock()
  await delay(20)
  assert.equal(c.fileLock, null, 'b still holds a shared lock')
  b.unlock()
  assert.equal(await p, true)
  assert.equal(c.fileLock, 'exclusive')
  c.unlock()
})

test('a failed upgrade (tryLock exclusive while another holds shared) keeps the shared lock',
  (t) => {
    // flock(2) converts a lock by dropping the old one first: a conversion that fails with
    // LOCK_NB leaves the description with no lock at all. Whatever fileLock then says must
    // be true: if it says 'shared', nobody may take the file exclusively.
    const { segs: [a, b, c] } = segments(t, 3)
    assert.equal(a.tryLock('shared'), true)
    assert.equal(b.tryLock('shared'), true)
    assert.equal(a.tryLock('exclusive'), false)
    b.unlock()
    const stolen = c.tryLock('exclusive')
    assert.equal(a.fileLock === 'shared' && stolen, false,
      `a.fileLock is ${a.fileLock} but another Segment took the file exclusively`)
  })

test('a timed-out upgrade (lock exclusive with a timeout) keeps the shared lock', (t) => {
  const { segs: [a, b, c] } = segments(t, 3)
  assert.equal(a.tryLock('shared'), true)
  assert.equal(b.tryLock('shared'), true)
  assert.equal(a.lock('exclusive', { timeout: 20 }), false)
  b.unlock()
  const stolen = c.tryLock('exclusive')
  assert.equal(a.fileLock === 'shared' && stolen, false,
    `a.fileLock is ${a.fileLock} but another Segment took the file exclusively`)
})

test('lockAsync: timeouts, AbortSignal, ERR_SHMEM_LOCK_PENDING while it waits', async (t) => {
  const { segs: [a, b] } = segments(t, 2)
  assert.equal(a.tryLock('exclusive'), true)
  assert.equal(await b.lockAsync('shared', { timeout: 30 }), false)
  assert.equal(await b.lockAsync('exclusive', { timeout: 0 }), false)
  assert.equal(b.fileLock, null)

  const ac = new AbortController()
  const p = b.lockAsync('exclusive', { signal: ac.signal })
  // While it waits, the same Segment takes no other lock call.
  assert.throws(() => b.lock('shared', { timeout: 0 }), code('ERR_SHMEM_LOCK_PENDING'))
  assert.throws(() => b.tryLock('shared'), code('ERR_SHMEM_LOCK_PENDING'))
  assert.throws(() => b.unlock(), code('ERR_SHMEM_LOCK_PENDING'))
  await assert.rejects(b.lockAsync('shared'), code('ERR_SHMEM_LOCK_PENDING'))
  setTimeout(() => ac.abort(), 20)
  await assert.rejects(p, isAbort)
  assert.equal(b.fileLock, null)
  await assert.rejects(b.lockAsync('exclusive', { signal: ac.signal }), isAbort)
  await assert.rejects(b.lockAsync('exclusive', { signal: AbortSignal.timeout(10) }), isAbort)
  // The Segment works again, and the aborted waits took nothing.
  assert.equal(b.tryLock('shared'), false)
  a.unlock()
  assert.equal(await b.lockAsync('exclusive', { signal: new AbortController().signal }), true)
  assert.equal(a.tryLock('shared'), false)
  b.unlock()
  assert.equal(a.tryLock('shared'), true)
  a.unlock()
})

test('close() rejects a pending lockAsync with ERR_SHMEM_CLOSED and releases a held lock',
  async (t) => {
    const { segs: [a, b, c] } = segments(t, 3)
    assert.equal(a.tryLock('exclusive'), true)
    const p = b.lockAsync('exclusive')
    setTimeout(() => b.close(), 20)
    await assert.rejects(p, code('ERR_SHMEM_CLOSED'))
    assert.equal(c.tryLock('shared'), false)
    a.close()
    assert.equal(a.fileLock, null)
    assert.equal(c.tryLock('exclusive'), true, 'closing the holder released its lock')
    c.unlock()
  })

test('a file lock held by another process blocks shared and exclusive correctly', async (t) => {
  const { name, segs: [a, b] } = segments(t, 2)
  // The child holds it exclusively: nothing here gets in.
  const ex = startChild(t, { op: 'file', name, mode: 'exclusive', how: 'try' })
  await ex.expect('file true exclusive')
  assert.equal(a.tryLock('shared'), false)
  assert.equal(a.tryLock('exclusive'), false)
  assert.equal(a.lock('shared', { timeout: 30 }), false)
  const p = a.lockAsync('shared', { timeout: 10000 })
  await delay(20)
  ex.send('release')
  await ex.expect('released')
  assert.equal(await p, true)
  assert.equal((await ex.finish()).code, 0)

  // The child holds it shared: other shared locks join, exclusive ones wait.
  const sh = startChild(t, { op: 'file', name, mode: 'shared', how: 'try' })
  await sh.expect('file true shared') // a's shared lock does not keep it out
  assert.equal(b.tryLock('exclusive'), false)
  a.unlock()
  assert.equal(b.tryLock('exclusive'), false, 'the child still holds its shared lock')
  // A sync wait with a timeout on a lock held only by another process: no deadlock error.
  assert.equal(b.lock('exclusive', { timeout: 30 }), false)
  sh.send('release')
  await sh.expect('released')
  assert.equal(b.lock('exclusive', { timeout: 5000 }), true)

  // This process holds it exclusively: the child blocks in lock() until the unlock.
  const waiter = startChild(t, { op: 'file', name, mode: 'shared', how: 'lock' })
  await assert.rejects(waiter.line(300), /no line/)
  b.unlock()
  await waiter.expect('file true shared')
  const probe = startChild(t, { op: 'file', name, mode: 'exclusive', how: 'timeout', timeout: 30 })
  await probe.expect('file false null')
  waiter.send('release')
  probe.send('release')
  await waiter.expect('released')
})

test('file locks on mapped files, across Segments and processes', async (t) => {
  const file = path.join(tempDir(), 'locked.bin')
  const a = shmem.mapFile(file, { size: 4096, create: true })
  const b = shmem.mapFile(file)
  t.after(() => { a.close(); b.close() })
  assert.equal(a.tryLock('exclusive'), true)
  assert.equal(b.tryLock('shared'), false)
  assert.throws(() => b.lock('shared'), code('ERR_SHMEM_WOULD_DEADLOCK'))
  const c = startChild(t, { op: 'file', path: file, mode: 'shared', how: 'async', timeout: 30 })
  await c.expect('file false null')
  c.send('release')
  a.unlock()
  const d = startChild(t, { op: 'file', path: file, mode: 'shared', how: 'try' })
  await d.expect('file true shared')
  assert.equal(b.tryLock('shared'), true)
  assert.equal(a.tryLock('exclusive'), false)
  d.send('release')
  await d.expect('released')
  b.unlock()
})

test('memfd: locks work; fromFd() shares the description of the fd it was given (documented)',
  async (t) => {
    // docs/locks.md: fromFd() dups the fd, and a dup shares the open file description, so a
    // lock through it is the same lock. A child that got the fd through stdio shares it too.
    const a = shmem.memfd(4096)
    const b = shmem.fromFd(a.fd)
    t.after(() => { b.close(); a.close() })
    assert.equal(a.tryLock('exclusive'), true)
    assert.equal(a.fileLock, 'exclusive')
    assert.equal(b.tryLock('exclusive'), true, 'the same description: the same lock')
    b.unlock()
    assert.equal(b.fileLock, null)
    // A Segment over a description of its own (/proc/self/fd/N opens the memfd anew) is
    // excluded by a's lock, once a takes it again (b's unlock dropped it). mapFile() does not
    // follow a symlink, /proc's included: open the link with fs and map the fd.
    const fd = require('fs').openSync(`/proc/self/fd/${a.fd}`, 'r+')
    const own = shmem.fromFd(fd)
    require('fs').closeSync(fd)
    t.after(() => own.close())
    assert.equal(own.tryLock('shared'), true, "b's unlock() released the shared lock")
    own.unlock()
    a.unlock() // a's record of its lock is stale now (the documented limit); start afresh
    assert.equal(a.fileLock, null)
    assert.equal(a.lock('exclusive', { timeout: 100 }), true)
    assert.equal(own.tryLock('shared'), false)
    assert.equal(await own.lockAsync('shared', { timeout: 20 }), false)
    a.unlock()
    assert.equal(own.tryLock('shared'), true)
    own.unlock()
  })

test('file lock results: exactly true or false, and if (seg.tryLock()) in a worker is not entered',
  async (t) => {
    // true when held, false when busy or timed out: no failure is truthy, so the plain
    // `if (seg.lock(...))` reads as it should.
    const { name, segs: [a, b] } = segments(t, 2)
    assert.strictEqual(a.lock('exclusive', { timeout: 100 }), true)
    for (const [what, r] of [
      ['tryLock', b.tryLock('shared')],
      ['lock', b.lock('shared', { timeout: 20 })],
      ['lock(timeout 0)', b.lock('exclusive', { timeout: 0 })],
      ['lockAsync', await b.lockAsync('shared', { timeout: 20 })],
      ['lockAsync(timeout 0)', await b.lockAsync('exclusive', { timeout: 0 })]
    ]) {
      assert.strictEqual(r, false, what)
    }
    assert.equal(b.fileLock, null)
    // Another thread, with a Segment of its own.
    const w = startWorker(t, `
      const seg = shmem.open(workerData.name)
      const entered = []
      if (seg.tryLock('shared')) entered.push('tryLock')
      if (seg.lock('shared', { timeout: 10 })) entered.push('lock')
      if (await seg.lockAsync('exclusive', { timeout: 10 })) entered.push('lockAsync')
      parentPort.postMessage(entered)
      await new Promise((resolve) => parentPort.once('message', resolve))
      const now = []
      if (seg.tryLock('shared')) { now.push('tryLock'); seg.unlock() }
      if (seg.lock('exclusive', { timeout: 1000 })) { now.push('lock'); seg.unlock() }
      if (await seg.lockAsync('exclusive', { timeout: 1000 })) { now.push('lockAsync'); seg.unlock() }
      seg.close()
      parentPort.postMessage(now)
    `, { name })
    assert.deepEqual(await w.next(), [])
    a.unlock()
    w.post('go')
    assert.deepEqual(await w.next(), ['tryLock', 'lock', 'lockAsync'])
    assert.strictEqual(await b.lockAsync('exclusive'), true)
    assert.strictEqual(b.tryLock('shared'), true, 'a change of mode on its own lock')
    b.unlock()
  })
