'use strict'
// A private file mapping (MAP_PRIVATE) keeps its writes to itself: locks, wait/notify and
// channels there would silently reach no other process, so each refuses it.
const test = require('node:test')
const assert = require('node:assert')
const fs = require('fs')
const os = require('os')
const path = require('path')
const shmem = require('..')

test('Mutex, RwLock, Semaphore, shmem.wait and Channel refuse a MAP_PRIVATE segment', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmem-test-private-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'data')
  fs.writeFileSync(file, Buffer.alloc(65536))
  const seg = shmem.mapFile(file, { private: true })
  t.after(() => seg.close())
  for (const make of [() => shmem.Mutex.init(seg, 0), () => shmem.RwLock.init(seg, 0),
    () => shmem.Semaphore.init(seg, 0, 1),
    () => shmem.Channel.init(seg, 0, 16384, { capacity: 8192, kind: 'spsc' })]) {
    assert.throws(make, { code: 'ERR_SHMEM_UNSUPPORTED', message: /private/ })
  }
  const words = seg.view(Int32Array, 0, 4)
  assert.throws(() => shmem.wait(words, 0, 1, 0), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => shmem.notify(words, 0), { code: 'ERR_INVALID_ARG_VALUE' })

  // The same file mapped shared is fine.
  const shared = shmem.mapFile(file)
  t.after(() => shared.close())
  assert.equal(shmem.Mutex.init(shared, 0).lock(), true)
})
