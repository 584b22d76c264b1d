'use strict'
// shmem/keyv: a Keyv storage adapter over a SharedMap, so that cache-manager, cacheable and
// every other Keyv user can put one cache shared by all the processes of a host in front of
// their second layer (Redis, a database).
//
// It speaks the storage contract Keyv 5 defines and Keyv 6 still takes from "legacy"
// adapters (Keyv 6 wraps it in its KeyvBridgeAdapter): async get/set/delete/clear/has and
// their Many forms, set(key, value, ttl) with a relative ttl in ms, and a `namespace`
// property. The adapter prefixes keys with `${namespace}::` itself (as @keyv/redis does), so
// clear() removes only this namespace's keys, whichever Keyv major drives it. Keyv 5 also
// prefixes keys of its own ('keyv:key'); pass it `useKeyPrefix: false` to store them once.
//
// A cache may drop what it cannot hold: a set whose key or value is over the map's limits, or
// that a full map with evict 'none' refuses, stores nothing, removes the key's older value
// and resolves false (as lru-cache ignores an entry over maxEntrySize). Other errors reject.

const { EventEmitter } = require('events')
const { SharedMap } = require('./shared-map')
const { invalidArgType, invalidArgValue } = require('./errors')
const { validateObject } = require('./validate')

// The errors a cache swallows: the entry does not fit (ERR_OUT_OF_RANGE), the map is full.
const DOES_NOT_FIT = new Set(['ERR_OUT_OF_RANGE', 'ERR_SHMEM_FULL'])

function ttlOptions (ttl) {
  // Keyv passes undefined for no ttl; 0, negative or not finite also mean none (the map's
  // default ttl then applies, which is none unless the map was made with one).
  if (typeof ttl !== 'number' || !(ttl > 0) || ttl === Infinity) return undefined
  return { ttl: Math.ceil(ttl) }
}

class KeyvShmem extends EventEmitter {
  #map
  #ownsMap

  /**
   * new KeyvShmem({ name, ...SharedMap options }) opens the map named `name` or creates it
   * with the options (SharedMap.openOrCreate); new KeyvShmem({ map }) uses an open SharedMap,
   * which stays the caller's (disconnect() does not close it). Both take namespace (default
   * none: keys as given) and keyPrefixSeparator (default '::').
   */
  constructor (options) {
    super()
    const { map, name, namespace, keyPrefixSeparator = '::', ...mapOptions } =
      validateObject(options, 'options')
    if (map !== undefined) {
      if (!(map instanceof SharedMap)) {
        throw invalidArgType('options.map', 'an instance of SharedMap', map)
      }
      if (name !== undefined) {
        throw invalidArgValue('options.name', name, 'must not be given with options.map')
      }
      this.#map = map
      this.#ownsMap = false
    } else {
      if (typeof name !== 'string') throw invalidArgType('options.name', 'of type string', name)
      this.#map = SharedMap.openOrCreate(name, mapOptions)
      this.#ownsMap = true
    }
    if (namespace !== undefined && typeof namespace !== 'string') {
      throw invalidArgType('options.namespace', 'of type string', namespace)
    }
    if (typeof keyPrefixSeparator !== 'string') {
      throw invalidArgType('options.keyPrefixSeparator', 'of type string', keyPrefixSeparator)
    }
    /** Keyv sets it; keys are stored as `${namespace}${keyPrefixSeparator}${key}`. */
    this.namespace = namespace
    this.keyPrefixSeparator = keyPrefixSeparator
    /** What Keyv 5 reads of an adapter's options. */
    this.opts = { dialect: 'shmem', url: name === undefined ? 'shmem:' : `shmem:${name}` }
  }

  /** The SharedMap under the adapter. */
  get map () {
    return this.#map
  }

  #prefix (namespace = this.namespace) {
    return namespace ? `${namespace}${this.keyPrefixSeparator}` : ''
  }

  #key (key) {
    if (typeof key !== 'string') throw invalidArgType('key', 'of type string', key)
    return this.#prefix() + key
  }

  // A key longer than the map's maxKeyBytes cannot be there: a read of it is a miss.
  #read (key, fn, missing) {
    try {
      return fn(this.#key(key))
    } catch (err) {
      if (err.code === 'ERR_OUT_OF_RANGE' && typeof key === 'string') return missing
      throw err
    }
  }

  #set (key, value, ttl) {
    const k = this.#key(key)
    try {
      this.#map.set(k, value, ttlOptions(ttl))
      return true
    } catch (err) {
      if (!DOES_NOT_FIT.has(err.code)) throw err
      try { this.#map.delete(k) } catch (e) { if (e.code !== 'ERR_OUT_OF_RANGE') throw e }
      return false
    }
  }

  /** The value of key, or undefined. */
  async get (key) {
    return this.#read(key, (k) => this.#map.get(k), undefined)
  }

  async getMany (keys) {
    return keys.map((key) => this.#read(key, (k) => this.#map.get(k), undefined))
  }

  /** Stores value under key for ttl ms (none: no expiry): false when it was not stored. */
  async set (key, value, ttl) {
    return this.#set(key, value, ttl)
  }

  /** entries: [{ key, value, ttl }]; a boolean for each. */
  async setMany (entries) {
    return entries.map(({ key, value, ttl }) => this.#set(key, value, ttl))
  }

  async has (key) {
    return this.#read(key, (k) => this.#map.has(k), false)
  }

  async hasMany (keys) {
    return keys.map((key) => this.#read(key, (k) => this.#map.has(k), false))
  }

  async delete (key) {
    return this.#read(key, (k) => this.#map.delete(k), false)
  }

  async deleteMany (keys) {
    return keys.map((key) => this.#read(key, (k) => this.#map.delete(k), false))
  }

  /**
   * Removes this namespace's keys, and every expired key; with no namespace, every key of the
   * map (SharedMap clear(), atomic for readers in every process).
   */
  async clear () {
    const prefix = this.#prefix()
    if (prefix === '') {
      this.#map.clear()
      return
    }
    // Expired keys (of any namespace) go too: they would only wait for a writer to meet them.
    this.#map.purgeStale()
    const doomed = []
    for (const key of this.#map.keys()) {
      if (typeof key === 'string' && key.startsWith(prefix)) doomed.push(key)
    }
    for (const key of doomed) this.#map.delete(key)
  }

  /** [key, value] of each live key of namespace (default: the adapter's), keys unprefixed. */
  async * iterator (namespace = this.namespace) {
    const prefix = this.#prefix(namespace)
    for (const [key, value] of this.#map.entries()) {
      if (typeof key === 'string' && key.startsWith(prefix)) yield [key.slice(prefix.length), value]
    }
  }

  /** Closes the map when the adapter opened it by name. */
  async disconnect () {
    if (this.#ownsMap) this.#map.close()
  }
}

module.exports = { KeyvShmem }
