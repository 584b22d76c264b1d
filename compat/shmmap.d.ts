// Types for shmem/compat/shmmap: the API of the shmmap package.
/// <reference types="node" />

/**
 * A new shared memory segment of byteLength bytes: [key, buffer]. Pass key to another
 * process. The key is unlinked on release(key) or when this process exits.
 */
export function create (byteLength: number): [string, Buffer]

/** The first byteLength bytes (default: all) of an existing segment, read-only. */
export function read (key: string, byteLength?: number): Buffer

/** The first byteLength bytes (default: all) of an existing segment, read-write. */
export function read_write (key: string, byteLength?: number): Buffer

/**
 * Unmaps every Buffer this process has for key (they become detached) and, in the process
 * that created it, unlinks the key.
 */
export function release (key: string): undefined
