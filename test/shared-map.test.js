'use strict'
// SharedMap: the API and its encodings, limits, full maps and LRU, TTL, increment and update,
// iteration, maps inside a segment, garbage, and processes: readers checking checksums while
// a writer clears and is killed with SIGKILL at random points.
const test = require('node:test')
const assert = require('assert')
const { spawn } = require('child_process')
const shmem = require('..')
const { SharedMap } = shmem
const { uniqueName, trackPosix, cleanup, fixture } = require('./helpers')

test.after(cleanup)

function newMap (options, tag = 'map') {
  const name = trackPosix(uniqueName(tag))
  return { name, map: SharedMap.create(name, options) }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

test('set, get, has, delete, size and stats', () => {
  const { map } = newMap({ capacity: 16, maxKeyBytes: 16, maxValueBytes: 64, encoding: 'utf8' })
  assert.equal(map.get('a'), undefined)
  assert.equal(map.set('a', 'one'), map)
  assert.equal(map.get('a'), 'one')
  map.set(Buffer.from('a'), 'uno') // the same key as bytes
  assert.equal(map.get('a'), 'uno')
  assert.equal(map.has('a'), true)
  assert.equal(map.has('b'), false)
  assert.equal(map.size, 1)
  assert.equal(map.delete('a'), true)
  assert.equal(map.delete('a'), false)
  assert.equal(map.size, 0)
  const st = map.stats()
  assert.deepEqual(Object.keys(st),
    ['entries', 'bytes', 'capacity', 'hits', 'misses', 'evictions', 'expirations', 'recoveries'])
  assert.equal(st.hits, 2)
  assert.equal(st.misses, 1)
  assert.equal(st.capacity, 16)
  map.close()
  map.close()
  assert.throws(() => map.get('a'), { code: 'ERR_SHMEM_CLOSED' })
})

test('encodings: json (the default), buffer, utf8 and v8', () => {
  const json = newMap({}).map
  assert.equal(json.encoding, 'json')
  json.set('o', { a: [1, 'b'] })
  assert.deepEqual(json.get('o'), { a: [1, 'b'] })
  assert.throws(() => json.set('u', undefined), { code: 'ERR_INVALID_ARG_VALUE' })
  const bytes = newMap({ encoding: 'buffer' }).map
  bytes.set('b', Buffer.from([1, 2, 3]))
  bytes.set('s', 'text')
  assert.deepEqual(bytes.get('b'), Buffer.from([1, 2, 3]))
  assert.equal(bytes.get('s').toString(), 'text')
  const target = Buffer.alloc(8)
  assert.equal(bytes.getInto('b', target), 3)
  assert.equal(bytes.getInto('none', target), -1)
  assert.throws(() => bytes.getInto('b', Buffer.alloc(2)), { code: 'ERR_OUT_OF_RANGE' })
  const big = newMap({ encoding: 'buffer', maxValueBytes: 100000 }).map
  big.set('big', Buffer.alloc(90000, 7))
  assert.equal(big.get('big').length, 90000)
  const v8m = newMap({ encoding: 'v8' }).map
  v8m.set('m', new Map([[1, 2]]))
  assert.deepEqual(v8m.get('m'), new Map([[1, 2]]))
  assert.equal(v8m.increment('n', 2), 2)
  assert.equal(v8m.get('n'), 2)
  const text = newMap({ encoding: 'utf8' }).map
  assert.throws(() => text.set('x', 5), { code: 'ERR_INVALID_ARG_TYPE' })
  for (const m of [json, bytes, big, v8m, text]) m.close()
})

test('limits throw ERR_OUT_OF_RANGE and change nothing', () => {
  const { map } = newMap({ maxKeyBytes: 4, maxValueBytes: 8, encoding: 'utf8' })
  map.set('k', 'v')
  assert.throws(() => map.set('kkkkk', 'v'), { code: 'ERR_OUT_OF_RANGE', message: /key/ })
  assert.throws(() => map.set('k', 'x'.repeat(9)), { code: 'ERR_OUT_OF_RANGE', message: /value/ })
  assert.throws(() => map.set('k', 'é'.repeat(5)), { code: 'ERR_OUT_OF_RANGE' }) // 10 bytes
  assert.throws(() => map.get('ééé'), { code: 'ERR_OUT_OF_RANGE' })
  assert.equal(map.get('k'), 'v')
  assert.equal(map.size, 1)
  assert.throws(() => map.get(5), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => SharedMap.byteLength({ capacity: 0 }), { code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => SharedMap.byteLength({ evict: 'lfu' }), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => new SharedMap(), { code: 'ERR_ILLEGAL_CONSTRUCTOR' })
  map.close()
})

test("a full map: evict 'none' throws ERR_SHMEM_FULL, 'lru' evicts what was not read", () => {
  const none = newMap({ capacity: 3, evict: 'none', encoding: 'utf8' }).map
  none.set('a', '1').set('b', '2').set('c', '3')
  assert.throws(() => none.set('d', '4'), { code: 'ERR_SHMEM_FULL' })
  none.set('a', '11') // a key already there may change
  assert.equal(none.get('d'), undefined)
  none.close()
  const lru = newMap({ capacity: 3, encoding: 'utf8' }).map
  lru.set('a', '1').set('b', '2').set('c', '3')
  lru.get('a')
  lru.set('d', '4')
  assert.equal(lru.has('b'), false)
  assert.equal(lru.get('a'), '1')
  assert.equal(lru.stats().evictions, 1)
  lru.close()
})

test('ttl: per map and per set; expired keys are misses', async () => {
  const { map } = newMap({ ttl: 30, encoding: 'utf8' })
  map.set('default', 'x')
  map.set('never', 'y', { ttl: 0 })
  map.set('short', 'z', { ttl: 1 })
  await sleep(50)
  assert.equal(map.get('default'), undefined)
  assert.equal(map.get('short'), undefined)
  assert.equal(map.get('never'), 'y')
  assert.deepEqual([...map.keys()], ['never'])
  assert.equal(map.purgeStale(), 2)
  assert.equal(map.stats().expirations, 2)
  assert.throws(() => map.set('k', 'v', { ttl: -1 }), { code: 'ERR_OUT_OF_RANGE' })
  map.close()
})

test('values an encoding cannot take, and an update() fn that returns a Promise, are coded errors',
  async () => {
    const json = newMap({}).map
    const v8m = newMap({ encoding: 'v8' }).map
    const cycle = {}
    cycle.self = cycle
    for (const [map, value] of [[json, 1n], [json, cycle], [v8m, new SharedArrayBuffer(4)],
      [v8m, () => 1]]) {
      assert.throws(() => map.set('k', value), { code: 'ERR_INVALID_ARG_VALUE' })
    }
    // The caller's own toJSON() error comes through as it is.
    assert.throws(() => json.set('k', { toJSON () { throw new RangeError('mine') } }), /mine/)
    let unhandled = null
    const onUnhandled = (err) => { unhandled = err }
    process.on('unhandledRejection', onUnhandled)
    assert.throws(() => json.update('k', async () => { throw new Error('later') }),
      { code: 'ERR_INVALID_ARG_VALUE', message: /synchronous/ })
    assert.equal(json.has('k'), false)
    json.set('k', 1) // the lock was released
    await sleep(10)
    process.off('unhandledRejection', onUnhandled)
    assert.equal(unhandled, null)
    json.close()
    v8m.close()
  })

test('increment and update', () => {
  const { map } = newMap({ encoding: 'json' })
  assert.equal(map.increment('n'), 1)
  assert.equal(map.increment('n', 41), 42)
  assert.equal(map.get('n'), 42)
  assert.equal(map.increment('n', -50), -8)
  map.set('s', 'text')
  assert.throws(() => map.increment('s'), { code: 'ERR_SHMEM_NOT_INTEGER' })
  map.set('max', Number.MAX_SAFE_INTEGER)
  assert.throws(() => map.increment('max'), { code: 'ERR_OUT_OF_RANGE' })
  assert.equal(map.get('max'), Number.MAX_SAFE_INTEGER)
  assert.deepEqual(map.update('o', (v) => ({ count: (v?.count ?? 0) + 1 })), { count: 1 })
  assert.deepEqual(map.update('o', (v) => ({ count: v.count + 1 })), { count: 2 })
  assert.throws(() => map.update('o', () => { throw new Error('no') }), /no/)
  assert.deepEqual(map.get('o'), { count: 2 })
  map.set('other', 1) // the lock was released
  assert.equal(map.update('o', () => undefined), undefined)
  assert.equal(map.has('o'), false)
  map.close()
})

test('iteration: keys come back as they were set', () => {
  const { map } = newMap({ encoding: 'utf8' })
  map.set('s', 'a').set(Buffer.from([0xff, 0]), 'b')
  const entries = [...map]
  assert.equal(entries.length, 2)
  const byKey = new Map(entries.map(([k, v]) => [Buffer.isBuffer(k) ? 'buf' : k, v]))
  assert.equal(byKey.get('s'), 'a')
  assert.equal(byKey.get('buf'), 'b')
  assert.deepEqual([...map.values()].sort(), ['a', 'b'])
  map.clear()
  assert.deepEqual([...map.entries()], [])
  map.close()
})

test('init and attach inside a segment; garbage gives ERR_SHMEM_BAD_STATE', () => {
  const options = { capacity: 8, encoding: 'utf8' }
  const length = SharedMap.byteLength(options)
  const seg = shmem.memfd(64 + length)
  const a = SharedMap.init(seg, 64, length, options)
  a.set('k', 'v')
  const b = SharedMap.attach(seg, 64)
  assert.equal(b.get('k'), 'v')
  assert.throws(() => SharedMap.init(seg, 32, length, options), { code: 'ERR_OUT_OF_RANGE' })
  assert.throws(() => SharedMap.attach(seg, 0), { code: 'ERR_SHMEM_BAD_STATE' })
  // Garbage in the index and entries: calls throw BAD_STATE or work, never crash.
  const bytes = seg.view(Buffer, 64 + 320, length - 320)
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131) & 0xff
  for (const key of ['k', 'a', 'b', 'c']) {
    for (const call of [() => b.get(key), () => b.set(key, 'x'), () => b.delete(key)]) {
      try { call() } catch (err) { assert.equal(err.code, 'ERR_SHMEM_BAD_STATE', String(err)) }
    }
  }
  seg.view(Buffer, 64, 4).fill(0x41) // the magic
  assert.throws(() => SharedMap.attach(seg, 64), { code: 'ERR_SHMEM_BAD_STATE' })
  a.close()
  b.close()
  seg.close()
  const priv = shmem.mapFile(require('path').join(require('os').tmpdir(),
    `shmem-map-${process.pid}`), { size: length, create: true, private: true })
  assert.throws(() => SharedMap.init(priv, 0, length, options), { code: 'ERR_SHMEM_UNSUPPORTED' })
  priv.close()
  require('fs').rmSync(priv.path ?? require('path').join(require('os').tmpdir(),
    `shmem-map-${process.pid}`), { force: true })
})

test('open, openOrCreate and Symbol.dispose', () => {
  const name = trackPosix(uniqueName('map-open'))
  const a = SharedMap.openOrCreate(name, { encoding: 'utf8' })
  const b = SharedMap.openOrCreate(name, { encoding: 'json' }) // the existing map's options
  assert.equal(b.encoding, 'utf8')
  a.set('k', 'v')
  const c = SharedMap.open(name)
  assert.equal(c.get('k'), 'v')
  c[Symbol.dispose || Symbol.for('nodejs.dispose')]()
  assert.equal(c.closed, true)
  a.close()
  b.close()
  assert.throws(() => SharedMap.open(trackPosix(uniqueName('none'))), { code: 'ENOENT' })
})

function run (args) {
  const child = spawn(process.execPath, [fixture('shared-map-worker.js'), ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => { out += d })
  child.stderr.on('data', (d) => { out += d })
  const done = new Promise((resolve) => child.on('exit', (code, signal) =>
    resolve({ code, signal, out })))
  return { child, done }
}

test('under concurrent use: CLOCK keeps the keys another process reads, no expired value is ' +
  'returned, and clear() while it reads shows it nothing torn', { timeout: 60000 }, async () => {
  const { name, map } = newMap({ capacity: 64, maxKeyBytes: 8, maxValueBytes: 32,
    encoding: 'utf8' }, 'map-hot')
  const setHot = () => { for (let k = 0; k < 16; k++) map.set(`h${k}`, `hot:${k}`) }
  setHot()
  const reader = run(['hot', name, '4000'])
  await sleep(100) // the reader is reading
  // Ten new keys at a time, then a pause: the reader reads every hot key many times while the
  // CLOCK hand goes once round the 65 entries (LRU itself could keep no key that is read
  // more slowly than 64 new ones arrive).
  let cold = 0
  for (let batch = 0; batch < 400; batch++) {
    if (batch === 100 || batch === 200) {
      map.clear() // while the reader reads
      setHot()
    }
    for (let i = 0; i < 10; i++) map.set(`c${cold++}`, 'cold')
    const ttl = 1 + (batch % 7)
    map.set(`t${batch % 64}`, `exp:${Date.now() + ttl}`, { ttl })
    await sleep(1)
  }
  const hot = Array.from({ length: 16 }, (_, k) => map.has(`h${k}`)).filter(Boolean).length
  const coldLeft = Array.from({ length: cold }, (_, k) => map.has(`c${k}`)).filter(Boolean).length
  const r = await reader.done
  assert.equal(r.code, 0, r.out)
  // 2,000 cold keys went through 64 entries after the last clear(): without the reader's
  // marks a hot key would survive that about as often as a cold one (about 2%).
  // (At least half: a reader the scheduler keeps off the CPU for a while cannot mark.)
  assert.ok(hot >= 8, `hot keys kept: ${hot} of 16 (cold keys kept: ${coldLeft} of ${cold})`)
  assert.ok(map.stats().evictions > 0)
  map.close()
})

test('readers in other processes never see a torn value; killed writers are recovered',
  { timeout: 120000 }, async () => {
    const { name, map } = newMap({ capacity: 24, maxKeyBytes: 8, maxValueBytes: 80,
      encoding: 'utf8' }, 'map-kill')
    let recovered = 0
    for (let round = 0; round < 20; round++) {
      const readers = [run(['read', name, '300']), run(['read', name, '300'])]
      const writer = run(['write', name, String(round * 1e6)])
      await new Promise((resolve) => writer.child.stdout.once('data', resolve)) // it writes
      await sleep(5 + Math.floor(Math.random() * 40))
      writer.child.kill('SIGKILL')
      const w = await writer.done
      assert.equal(w.signal, 'SIGKILL', w.out)
      // The next write takes the lock over when the killed writer held it. Its key is none
      // the readers check (they read k0 to k31 and would take this value for a torn one).
      map.set('probe', 'anything|0')
      map.delete('probe')
      for (const r of readers) {
        const result = await r.done
        assert.equal(result.code, 0, result.out)
      }
      for (const [, v] of map) assert.match(v, /\|\d+$/)
      assert.ok(map.size <= 24)
      recovered = map.stats().recoveries
    }
    // Whether a kill lands inside the lock is chance; over 20 rounds some do.
    assert.ok(recovered >= 1, `recoveries: ${recovered}`)
    map.close()
  })
