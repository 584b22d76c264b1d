// Types for shmem/compat/shm-typed-array: the API of the shm-typed-array package.
/// <reference types="node" />

type Shm<T> = T & { key?: number }

export interface ShmMap {
  Buffer: Shm<Buffer>
  Int8Array: Shm<Int8Array>
  Uint8Array: Shm<Uint8Array>
  Uint8ClampedArray: Shm<Uint8ClampedArray>
  Int16Array: Shm<Int16Array>
  Uint16Array: Shm<Uint16Array>
  Int32Array: Shm<Int32Array>
  Uint32Array: Shm<Uint32Array>
  Float32Array: Shm<Float32Array>
  Float64Array: Shm<Float64Array>
}

/**
 * Creates a System V segment (key: an integer 1 .. 2^32-2, or null/undefined for a generated
 * one, read back from `.key`) or a POSIX object (key: a string such as '/name') of `count`
 * elements. perm: octal digits, default '660'. Returns null when the key or name exists.
 */
export function create<K extends keyof ShmMap = 'Buffer'> (
  count: number, typeKey?: K, key?: number | string | null, perm?: string | number): ShmMap[K] | null

/** Attaches an existing segment or object. Returns null when it does not exist. */
export function get<K extends keyof ShmMap = 'Buffer'> (key: number | string, typeKey?: K): ShmMap[K] | null

/** create() with a POSIX name. */
export function createPosix<K extends keyof ShmMap = 'Buffer'> (
  name: string, count: number, typeKey?: K, perm?: string | number): ShmMap[K] | null

/** get() with a POSIX name. */
export function getPosix<K extends keyof ShmMap = 'Buffer'> (name: string, typeKey?: K): ShmMap[K] | null

/**
 * Detaches this process. System V: 0 when the segment was removed (no attachments left, or
 * forceDestroy), else the attachments left. POSIX: 0 when unlinked (forceDestroy), 1 when only
 * detached. -1 when it does not exist or this process had not attached it.
 */
export function detach (key: number | string, forceDestroy?: boolean): number

/** detach(key, true) === 0. */
export function detachPosix (name: string, forceDestroy?: boolean): number

/** detach(key, true) === 0. */
export function destroy (key: number | string): boolean

/**
 * Detaches everything; removes the System V segments this process created (and those no
 * process is attached to any more). Returns how many System V segments were removed. Runs at
 * exit, printing `shm segments destroyed: N` when N > 0.
 */
export function detachAll (): number

/** Bytes mapped through this module now (POSIX objects count their 8-byte header). */
export function getTotalSize (): number

/** Bytes of the segments and objects this process created and has not destroyed. */
export function getTotalCreatedSize (): number

/** Max count of elements of one segment: buffer.constants.MAX_LENGTH. */
export const LengthMax: number

export const BufferType: { readonly [K in keyof ShmMap]: number }

export const SHMBT_BUFFER: 0
export const SHMBT_INT8: 1
export const SHMBT_UINT8: 2
export const SHMBT_UINT8CLAMPED: 3
export const SHMBT_INT16: 4
export const SHMBT_UINT16: 5
export const SHMBT_INT32: 6
export const SHMBT_UINT32: 7
export const SHMBT_FLOAT32: 8
export const SHMBT_FLOAT64: 9
