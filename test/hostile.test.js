'use strict'
// Hostile arguments: Proxies (revoked ones too), fake and detached typed arrays, objects that
// cannot be turned into strings, options whose getters close the segment, a TypedArray
// subclass that lies about its element size. Whatever such a value does, every error the
// API throws (or rejects with) carries a string `code`, as the README promises: a TypeError
// from V8 itself (no code) means a value reached a place it should not have.

const test = require('node:test')
const assert = require('assert')
const { shmem, uniqueName, trackPosix } = require('./helpers')
const sta = require('../compat/shm-typed-array')

// A fresh set each time: some are consumed (detached) or revoked.
function hostileValues () {
  const detached = new Int32Array(4)
  structuredClone(detached.buffer, { transfer: [detached.buffer] })
  const revoked = Proxy.revocable({}, {})
  revoked.revoke()
  const revokedArray = Proxy.revocable(new Int32Array(2), {})
  revokedArray.revoke()
  return {
    'a fake Int32Array': { __proto__: Int32Array.prototype },
    'a fake Uint8Array': Object.create(Uint8Array.prototype),
    'a detached Int32Array': detached,
    'a Proxy of an Int32Array': new Proxy(new Int32Array(2), {}),
    'a Proxy of an object': new Proxy({}, {}),
    'a revoked Proxy': revoked.proxy,
    'a revoked Proxy of an Int32Array': revokedArray.proxy,
    'a symbol': Symbol('s'),
    'an object without a prototype': Object.create(null),
    'an object whose toString returns an object': {
      toString () { return {} },
      valueOf () { return {} }
    }
  }
}

// Runs fn and collects what it throws or rejects with when that has no string code.
async function codeless (label, fn, found) {
  let err
  try {
    await fn()
    return
  } catch (e) {
    err = e
  }
  if (err === null || typeof err !== 'object' || typeof err.code !== 'string') {
    const what = err && err.stack ? err.stack.split('\n').slice(0, 2).join(' / ') : String(err)
    found.push(`${label}: ${what}`)
  }
}

function segment (t, size = 65536) {
  const name = trackPosix(uniqueName('hostile'))
  const seg = shmem.create(name, size)
  t.after(() => {
    seg.close()
    try { shmem.unlink(name) } catch {}
  })
  return seg
}

test('file lock modes and options: hostile values give coded errors', async (t) => {
  const seg = segment(t)
  const found = []
  for (const [what, v] of Object.entries(hostileValues())) {
    for (const m of ['lock', 'tryLock', 'lockAsync']) {
      await codeless(`segment.${m}(${what})`, () => seg[m](v, { timeout: 0 }), found)
      if (m !== 'tryLock') {
        await codeless(`segment.${m}('shared', ${what})`, () => seg[m]('shared', v), found)
        await codeless(`segment.${m}('shared', { timeout: ${what} })`,
          () => seg[m]('shared', { timeout: v }), found)
      }
      if (seg.fileLock !== null) seg.unlock()
    }
  }
  // An inherited name is no mode.
  assert.throws(() => seg.tryLock('toString'), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.deepEqual(found, [])
})

test('sync, residency and the other segment options: hostile values give coded errors',
  async (t) => {
    const seg = segment(t)
    const found = []
    for (const [what, v] of Object.entries(hostileValues())) {
      for (const m of ['sync', 'residency', 'lockMemory']) {
        await codeless(`segment.${m}(${what})`, () => seg[m](v), found)
        for (const key of ['offset', 'length', 'async', 'onFault']) {
          await codeless(`segment.${m}({ ${key}: ${what} })`, () => seg[m]({ [key]: v }), found)
        }
      }
      await codeless(`segment.advise(${what})`, () => seg.advise(v), found)
      await codeless(`segment.view(${what})`, () => seg.view(v), found)
      // Some of these are fine options objects (a Proxy of one, a null-prototype object).
      const name = trackPosix(uniqueName('opts'))
      await codeless(`shmem.create(name, size, ${what})`,
        () => shmem.create(name, 4096, v).close(), found)
      await codeless(`shmem.wait(${what})`, () => shmem.wait(v, 0, 0, 0), found)
      await codeless(`shmem.notify(${what})`, () => shmem.notify(v, 0), found)
    }
    assert.deepEqual(found, [])
  })

test('sync and residency options whose getters close the segment: coded errors', async (t) => {
  const found = []
  for (const m of ['sync', 'residency']) {
    for (const key of ['offset', 'length', 'async', 'invalidate']) {
      const seg = segment(t)
      await codeless(`segment.${m}({ get ${key} () { close } })`,
        () => seg[m]({ get [key] () { seg.close() } }), found)
    }
  }
  assert.deepEqual(found, [])
})

test('Mutex, RwLock, Semaphore: hostile options, and getters that close the segment',
  async (t) => {
    const found = []
    const kinds = [
      ['Mutex', (seg) => shmem.Mutex.init(seg, 0), ['lock', 'lockAsync', 'withLockSync']],
      ['RwLock', (seg) => shmem.RwLock.init(seg, 0),
        ['readLock', 'writeLock', 'readLockAsync', 'writeLockAsync']],
      ['Semaphore', (seg) => shmem.Semaphore.init(seg, 0, 1), ['wait', 'waitAsync']]
    ]
    const call = (lock, m, options) => m === 'withLockSync'
      ? lock[m](() => {}, options)
      : lock[m](options)
    const release = (lock) => {
      try {
        if (lock.post) lock.post()
        else lock.unlock()
      } catch {}
    }
    for (const [kind, init, methods] of kinds) {
      for (const m of methods) {
        for (const [what, v] of Object.entries(hostileValues())) {
          const lock = init(segment(t))
          for (const options of [v, { timeout: v }, { signal: v }]) {
            await codeless(`${kind}.${m}(${what})`, async () => {
              const r = await call(lock, m, options)
              if (r) release(lock)
            }, found)
          }
        }
        // The segment closed by a getter the lock reads: ERR_SHMEM_CLOSED, never Atomics on
        // a detached buffer.
        for (const key of ['timeout', 'signal']) {
          const seg = segment(t)
          const lock = init(seg)
          const options = { get [key] () { seg.close() } }
          await codeless(`${kind}.${m}({ get ${key} () { close } })`,
            () => call(lock, m, options), found)
        }
        // A signal whose aborted getter closes the segment.
        if (m.endsWith('Async')) {
          const seg = segment(t)
          const lock = init(seg)
          let reads = 0
          const signal = {
            get aborted () { if (++reads > 1) seg.close(); return false },
            addEventListener () {},
            removeEventListener () {}
          }
          await codeless(`${kind}.${m}({ signal: closes when read twice })`, async () => {
            const r = await call(lock, m, { signal, timeout: 0 })
            if (r) release(lock)
          }, found)
        }
      }
    }
    assert.deepEqual(found, [])
  })

test('compat shm-typed-array perm: hostile values give coded errors', async (t) => {
  const found = []
  for (const [what, v] of Object.entries(hostileValues())) {
    const name = trackPosix(uniqueName('sta'))
    await codeless(`create(..., perm ${what})`, () => {
      if (sta.create(4, 'Int32Array', name, v) !== null) sta.destroy(name)
    }, found)
  }
  assert.deepEqual(found, [])
  // What the original reads stays readable: octal strings and numbers, and junk is 660.
  const name = trackPosix(uniqueName('sta'))
  const a = sta.create(4, 'Int32Array', name, '640')
  assert.notEqual(a, null)
  sta.destroy(name)
})

test('view(): a subclass that lies about BYTES_PER_ELEMENT gets its real element size',
  (t) => {
    const seg = segment(t, 4096)
    class Int32By3 extends Int32Array {
      static get BYTES_PER_ELEMENT () { return 3 }
    }
    class Uint8By3 extends Uint8Array {
      static get BYTES_PER_ELEMENT () { return 3 }
    }
    // Alignment is the real one's (4): offset 3 is refused with a code, 4 works.
    assert.throws(() => seg.view(Int32By3, 3), { code: 'ERR_INVALID_ARG_VALUE' })
    const v = seg.view(Int32By3, 4)
    assert.ok(v instanceof Int32By3)
    assert.equal(v.length, 1023)
    assert.equal(v.byteLength, 4092)
    // Lengths count real elements: all 4096 bytes, not 4096 / 3.
    assert.equal(seg.view(Uint8By3).length, 4096)
    assert.throws(() => seg.view(Uint8By3, 0, 4097), { code: 'ERR_OUT_OF_RANGE' })
    // A constructor that returns something else than the view it was asked for.
    class Other extends Uint8Array {
      constructor () {
        super(8)
      }
    }
    assert.throws(() => seg.view(Other), { code: 'ERR_INVALID_ARG_VALUE' })
    // A Proxy of a constructor, or a revoked one, is no TypedArray constructor.
    const revoked = Proxy.revocable(Int32Array, {})
    revoked.revoke()
    assert.throws(() => seg.view(new Proxy(Int32Array, {})), { code: 'ERR_INVALID_ARG_TYPE' })
    assert.throws(() => seg.view(revoked.proxy), { code: 'ERR_INVALID_ARG_TYPE' })
  })

test('an object made on Segment.prototype is not a Segment: coded errors, and inspect works', () => {
  const fake = Object.create(shmem.Segment.prototype)
  const TYPE = { code: 'ERR_INVALID_ARG_TYPE', message: /instance of Segment/ }
  assert.throws(() => shmem.Mutex.init(fake, 0), TYPE)
  assert.throws(() => shmem.RwLock.attach(fake, 0), TYPE)
  assert.throws(() => shmem.Semaphore.init(fake, 0, 1), TYPE)
  assert.throws(() => shmem.Channel.attach(fake, 0), TYPE)
  assert.throws(() => shmem.Channel.init(fake, 0, 4096, { capacity: 1024, kind: 'spsc' }), TYPE)
  assert.strictEqual(require('util').inspect(fake), 'Segment {}')
})

test('getters read on another object throw ERR_INVALID_THIS, not an uncoded TypeError', () => {
  // As an options object whose prototype is one of ours, read by a factory.
  for (const C of [shmem.Segment, shmem.Channel, shmem.SharedMap, shmem.Mutex, shmem.RwLock,
    shmem.Semaphore]) {
    const fake = Object.create(C.prototype)
    const getters = Object.getOwnPropertyNames(C.prototype)
      .filter((k) => typeof Object.getOwnPropertyDescriptor(C.prototype, k).get === 'function')
    assert.ok(getters.length > 0, C.name)
    for (const k of getters) {
      assert.throws(() => fake[k], {
        code: 'ERR_INVALID_THIS', name: 'TypeError', message: `Value of "this" must be of type ${C.name}`
      }, `${C.name}.${k}`)
    }
  }
  assert.throws(() => shmem.memfd(4096, Object.create(shmem.Segment.prototype)),
    { code: 'ERR_INVALID_THIS' })
})
