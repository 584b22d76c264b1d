'use strict'
// shmem/keyv: the Keyv storage adapter, driven by the real keyv (major 5, which cache-manager,
// cacheable and @keyv/redis use, and major 6, the current one, installed as keyv-6), and by
// cache-manager and cacheable; namespaces, ttl, clear() of one namespace, entries that do not
// fit, and a value set in one process read in another. Each skips, saying why, where its
// package is not installed (they are devDependencies).
const test = require('node:test')
const assert = require('assert')
const path = require('path')
const { SharedMap } = require('..')
const { KeyvShmem } = require('../keyv')
const { uniqueName, trackPosix, cleanup, runSnippet } = require('./helpers')

test.after(cleanup)

function load (id) {
  try {
    return { module: require(id), skip: false }
  } catch (err) {
    return { module: null, skip: `${id} does not load here (${err.code || err.message})` }
  }
}

const keyv5 = load('keyv')
const keyv6 = load('keyv-6')
const cacheManager = load('cache-manager')
const cacheable = load('cacheable')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function newStore (options = {}) {
  const name = trackPosix(uniqueName('keyv'))
  return new KeyvShmem({ name, capacity: 64, ...options })
}

for (const [major, loaded] of [['5', keyv5], ['6', keyv6]]) {
  const Keyv = loaded.module && loaded.module.Keyv

  test(`keyv ${major}: get, set with ttl, has, delete, and namespaces cleared one by one`,
    { skip: loaded.skip }, async () => {
      const store = newStore()
      const users = new Keyv({ store, namespace: 'users' })
      const cache = new Keyv({ store: new KeyvShmem({ map: store.map }), namespace: 'cache' })
      assert.equal(await users.get('k'), undefined)
      assert.equal(await users.set('k', { name: 'ada' }), true)
      await cache.set('k', 'other')
      assert.deepEqual(await users.get('k'), { name: 'ada' })
      assert.equal(await cache.get('k'), 'other')
      assert.equal(await users.has('k'), true)
      await users.set('short', 1, 30)
      await cache.set('long', 2, 60000)
      await sleep(60)
      assert.equal(await users.get('short'), undefined)
      assert.equal(await cache.get('long'), 2)
      assert.equal(await users.delete('k'), true)
      assert.equal(await users.delete('k'), false)
      await users.set('a', 1)
      await users.set('b', 2)
      await users.clear() // the users' keys only
      assert.equal(await users.get('a'), undefined)
      assert.equal(await cache.get('k'), 'other')
      assert.equal(await cache.get('long'), 2)
      // The adapter's own prefix: whichever major drives it, each namespace's keys start with it.
      for (const key of store.map.keys()) assert.match(key, /^cache::/)
      await store.disconnect()
      assert.equal(store.map.closed, true)
    })

  test(`keyv ${major}: many-key calls, and a value over the map's limit is not stored`,
    { skip: loaded.skip }, async () => {
      const store = newStore({ maxValueBytes: 200 })
      const keyv = new Keyv({ store, namespace: 'n' })
      await keyv.set('big', 'small first')
      // Not stored, and the older value does not stay behind to be served stale.
      assert.equal(await keyv.set('big', 'x'.repeat(500)), false)
      assert.equal(await keyv.get('big'), undefined)
      assert.equal(await keyv.get('k'.repeat(200)), undefined) // over maxKeyBytes: a miss
      assert.equal(await keyv.set(['a', 'b'].join(''), 'ab'), true)
      assert.deepEqual(await keyv.get(['ab', 'none']), ['ab', undefined])
      assert.deepEqual(await keyv.has(['ab', 'none']), [true, false])
      assert.deepEqual(await keyv.delete(['ab', 'none']), [true, false])
      store.map.close()
    })
}

test('keyv 6 iterates one namespace, keys without its prefix', { skip: keyv6.skip }, async () => {
  const store = newStore()
  const a = new keyv6.module.Keyv({ store, namespace: 'a' })
  const b = new keyv6.module.Keyv({ store: new KeyvShmem({ map: store.map }), namespace: 'b' })
  await a.set('x', 1)
  await b.set('y', 2)
  const seen = []
  for await (const entry of a.iterator()) seen.push(entry)
  assert.deepEqual(seen, [['x', 1]])
  await store.disconnect()
})

test('the adapter on its own: no namespace, clear() empties the map; options checked', async () => {
  const store = newStore({ encoding: 'utf8' })
  assert.equal(store.map.encoding, 'utf8')
  assert.equal(await store.set('k', 'v', 0), true)
  const entries = [{ key: 'a', value: '1' }, { key: 'b', value: '2', ttl: 5 }]
  assert.deepEqual(await store.setMany(entries), [true, true])
  assert.deepEqual(await store.getMany(['k', 'a']), ['v', '1'])
  await store.clear()
  assert.equal(store.map.size, 0)
  const map = store.map
  const borrowed = new KeyvShmem({ map })
  await borrowed.disconnect()
  assert.equal(map.closed, false) // the caller's map stays open
  await store.disconnect()
  assert.throws(() => new KeyvShmem(), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => new KeyvShmem({}), { code: 'ERR_INVALID_ARG_TYPE', message: /name/ })
  assert.throws(() => new KeyvShmem({ map: new Map() }), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => new KeyvShmem({ name: 'x', capacity: 0 }), { code: 'ERR_OUT_OF_RANGE' })
  const other = SharedMap.create(trackPosix(uniqueName('keyv')), { capacity: 4 })
  assert.throws(() => new KeyvShmem({ map: other, name: 'x' }), { code: 'ERR_INVALID_ARG_VALUE' })
  assert.throws(() => new KeyvShmem({ map: other, namespace: 5 }), { code: 'ERR_INVALID_ARG_TYPE' })
  other.close()
})

test('a value one process sets through Keyv, another reads', { skip: keyv5.skip }, async () => {
  const store = newStore()
  const keyv = new keyv5.module.Keyv({ store, namespace: 'shared' })
  await keyv.set('greeting', { from: process.pid })
  const root = path.join(__dirname, '..')
  const r = await runSnippet(`
    const { Keyv } = require(require.resolve('keyv', { paths: [${JSON.stringify(root)}] }))
    const { KeyvShmem } = require(${JSON.stringify(path.join(root, 'keyv.js'))})
    const store = new KeyvShmem({ name: process.argv[2] })
    const keyv = new Keyv({ store, namespace: 'shared' })
    console.log(JSON.stringify(await keyv.get('greeting')))
    await keyv.set('reply', 'from the child')
    await store.disconnect()`, { args: [store.map.segment.name] })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout), { from: process.pid })
  assert.equal(await keyv.get('reply'), 'from the child')
  await store.disconnect()
})

test('cache-manager with shmem as its store', { skip: cacheManager.skip || keyv5.skip },
  async () => {
    const store = newStore()
    const cache = cacheManager.module.createCache({
      stores: [new keyv5.module.Keyv({ store, namespace: 'cm' })]
    })
    await cache.set('k', { v: 1 }, 30)
    assert.deepEqual(await cache.get('k'), { v: 1 })
    assert.equal(await cache.wrap('w', async () => 'computed'), 'computed')
    assert.equal(await cache.get('w'), 'computed')
    await sleep(60)
    assert.equal(await cache.get('k'), undefined)
    await cache.clear()
    assert.equal(store.map.size, 0)
    await cache.disconnect()
  })

test('cacheable with shmem as its primary layer', { skip: cacheable.skip || keyv5.skip },
  async () => {
    const store = newStore()
    const primary = new keyv5.module.Keyv({ store, namespace: 'c' })
    const cache = new cacheable.module.Cacheable({ primary })
    await cache.set('k', 'v', '1h')
    assert.equal(await cache.get('k'), 'v')
    assert.equal(await cache.has('k'), true)
    await cache.delete('k')
    assert.equal(await cache.get('k'), undefined)
    await store.disconnect()
  })
