// Types for shmem/keyv: a Keyv storage adapter over a SharedMap. Keyv's own types are not
// imported (keyv is no dependency of shmem); the class has the shape of Keyv's storage
// adapter, which Keyv checks at run time.
/// <reference types="node" />
import { EventEmitter } from 'events'
import shmem = require('./index')

export interface KeyvShmemOptions extends shmem.SharedMapCreateOptions {
  /** The map to open, or create with the other options (SharedMap.openOrCreate). */
  name?: string
  /** An open map to use instead (it stays the caller's: disconnect() does not close it). */
  map?: shmem.SharedMap
  /** Keys are stored as `${namespace}${keyPrefixSeparator}${key}` (default: none). */
  namespace?: string
  /** Default '::'. */
  keyPrefixSeparator?: string
}

export interface KeyvShmemEntry {
  key: string
  value: any
  /** ms until it expires (default: none). */
  ttl?: number
}

export class KeyvShmem extends EventEmitter {
  constructor (options: KeyvShmemOptions)
  /** Keyv sets it; clear() removes only this namespace's keys. */
  namespace: string | undefined
  keyPrefixSeparator: string
  readonly opts: { dialect: 'shmem', url: string }
  /** The SharedMap under the adapter. */
  readonly map: shmem.SharedMap
  get (key: string): Promise<any>
  getMany (keys: string[]): Promise<any[]>
  /** false when the map could not hold it (over a limit, or full with evict 'none'). */
  set (key: string, value: any, ttl?: number): Promise<boolean>
  setMany (entries: KeyvShmemEntry[]): Promise<boolean[]>
  has (key: string): Promise<boolean>
  hasMany (keys: string[]): Promise<boolean[]>
  delete (key: string): Promise<boolean>
  deleteMany (keys: string[]): Promise<boolean[]>
  /** Removes this namespace's keys; with no namespace, every key of the map. */
  clear (): Promise<void>
  /** [key, value] of each live key of namespace, without the prefix. */
  iterator (namespace?: string): AsyncGenerator<[string, any], void>
  /** Closes the map when the adapter opened it by name. */
  disconnect (): Promise<void>
}
