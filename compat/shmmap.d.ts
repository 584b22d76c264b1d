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

/**
 * msync(2) with MS_SYNC of the segment behind buffer, a Buffer this module mapped and has not
 * released (anything else: ERR_INVALID_ARG_VALUE).
 */
export function transfer (buffer: Buffer): undefined
