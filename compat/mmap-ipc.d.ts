// Types for shmem/compat/mmap-ipc: the API of the mmap-ipc package, with Promise variants.
// The module's exports are the class itself (module.exports = mmapIPC, which also carries
// .mmapIPC and .default), declared as a class merged with a namespace and `export =`;
// mmap-ipc.d.mts gives the same names to ESM.
/// <reference types="node" />

declare namespace mmapIPC {
  export interface LockAsyncOptions {
    /** Milliseconds to wait; the Promise resolves false when they run out. Default: no limit. */
    timeout?: number
    /** Abort the wait: the Promise rejects with an AbortError. */
    signal?: AbortSignal
  }

  /** The class again, for `const { mmapIPC } = require(...)` and `.default`. */
  export { mmapIPC, mmapIPC as default }
}

declare class mmapIPC {
  /**
   * Opens the POSIX object '/' + shm_name, or creates it with size bytes; an existing object
   * is never truncated (one smaller than size is ERR_OUT_OF_RANGE). lock_memory:
   * mlock2(MLOCK_ONFAULT) the mapping.
   */
  constructor (shm_name: string, size: number | string, lock_memory?: boolean)

  /** The original's static factory: the same as `new mmapIPC(shm_name, size, lock_memory)`. */
  static CreateNewItem (shm_name: string, size: number | string, lock_memory?: boolean): mmapIPC

  /** The Buffer over the mapping: the same one every call. */
  buffer (): Buffer

  /** Shared lock; blocks while another process writes. False at once when another instance in this thread holds the write lock. */
  acquireReadLock (): boolean

  /** Exclusive lock (converts a read lock this instance holds). False at once when another instance in this thread holds a lock. */
  acquireWriteLock (): boolean

  /** The README's spelling of acquireWriteLock(). */
  acquireWrireLock (): boolean

  /** acquireReadLock() off the event loop; waits for other instances of this process too. */
  acquireReadLockAsync (options?: mmapIPC.LockAsyncOptions): Promise<boolean>

  /** acquireWriteLock() off the event loop; waits for other instances of this process too. */
  acquireWriteLockAsync (options?: mmapIPC.LockAsyncOptions): Promise<boolean>

  /** Releases the lock this instance holds. */
  removeLock (): boolean

  /** (shmem) Releases the lock, unmaps (the Buffer is detached) and closes. The name stays. */
  close (): void

  /** (shmem) shm_unlink(3) of the name; false when it was already gone. */
  unlink (): boolean
}

export = mmapIPC
