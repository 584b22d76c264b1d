// Type declarations for shmem's CommonJS entry point (index.js); index.d.mts gives the same
// declarations to ESM. Every function is documented in README.md.
//
// index.js sets module.exports to an object, so these declare a namespace and `export =` it:
// `require('shmem')`, `import shmem = require('shmem')` and `import * as shmem from 'shmem'`
// all see the same object, and a default import needs esModuleInterop, just as at run time.

/// <reference types="node" />

declare namespace shmem {
  export type SegmentKind = 'posix' | 'sysv' | 'memfd' | 'file'

  /** A size or offset: an integer Number up to Number.MAX_SAFE_INTEGER (or a BigInt that fits). */
  export type Size = number | bigint

  export type Advice =
    | 'normal' | 'random' | 'sequential' | 'willneed' | 'dontneed' | 'hugepage' | 'nohugepage'
    | 'free' | 'remove' | 'dontfork' | 'dofork' | 'mergeable' | 'unmergeable' | 'dontdump'
    | 'dodump' | 'wipeonfork' | 'keeponfork' | 'cold' | 'pageout' | 'populate_read'
    | 'populate_write' | 'collapse'
    | number

  export type TypedArrayConstructor =
    | Int8ArrayConstructor | Uint8ArrayConstructor | Uint8ClampedArrayConstructor
    | Int16ArrayConstructor | Uint16ArrayConstructor | Int32ArrayConstructor
    | Uint32ArrayConstructor | Float32ArrayConstructor | Float64ArrayConstructor
    | BigInt64ArrayConstructor | BigUint64ArrayConstructor

  /** Options every constructor accepts. */
  export interface MapOptions {
    /** Map PROT_READ only (and open the object read-only). A write through it is SIGSEGV. */
    readOnly?: boolean
    /** Fault every page in now; a full /dev/shm fails here instead of SIGBUS later. */
    populate?: boolean
    /** hugetlb pages (memfd and System V only); ERR_SHMEM_NO_HUGEPAGES when none are free. */
    hugePages?: boolean
    /** mlock(2) the mapping: true, or 'onfault' for mlock2(MLOCK_ONFAULT). */
    lockMemory?: boolean | 'onfault'
  }

  export interface CreateOptions extends MapOptions {
    /** Permission bits, applied less the umask. Default 0o600. */
    mode?: number | string
    /**
     * This process owns what the call creates: the name is removed when the segment is
     * closed, on normal exit, process.exit(), an uncaught exception, and on SIGINT, SIGTERM
     * and SIGHUP (unless the program listens for that signal itself). A creator record lets
     * gc() remove it after a crash. openOrCreate: only when this call created the object.
     */
    autoUnlink?: boolean
  }

  export interface OpenOptions extends MapOptions {
    /** Bytes to map; default: the whole object. More than the object is ERR_OUT_OF_RANGE. */
    size?: Size
  }

  export interface MemfdOptions extends MapOptions {
    /** The name /proc shows (at most 249 bytes). Default 'shmem'. */
    name?: string
    /** Seal the size (F_SEAL_SHRINK | F_SEAL_GROW): nobody can truncate it under a mapping. */
    seal?: boolean
  }

  export interface FromFdOptions extends Omit<MapOptions, 'hugePages'> {
    size?: Size
    offset?: Size
    /** MAP_PRIVATE: writes stay in this process. */
    private?: boolean
  }

  export interface MapFileOptions extends Omit<MapOptions, 'hugePages'> {
    /** Bytes to map; default: the file from offset to its end. Required with create. */
    size?: Size
    /** Any byte offset (it need not be page-aligned). */
    offset?: Size
    /**
     * Create the file when missing (O_EXCL), and extend it to offset + size when shorter. An
     * existing file is used only when it is a regular file of this process's effective user
     * (else EPERM, or ENODEV / EISDIR). A symlink as the last component is ELOOP, always.
     */
    create?: boolean
    /** Permission bits of a file this call creates. Default 0o600. */
    mode?: number | string
    /** MAP_PRIVATE: writes stay in this process and never reach the file. */
    private?: boolean
  }

  export interface ViewOptions {
    /** A view over segment.sharedArrayBuffer instead of segment.arrayBuffer. */
    shared?: boolean
  }

  export interface SyncOptions {
    offset?: Size
    length?: Size
    /** MS_ASYNC instead of MS_SYNC. */
    async?: boolean
    /** Add MS_INVALIDATE. */
    invalidate?: boolean
  }

  export interface RangeOptions {
    offset?: Size
    length?: Size
  }

  export interface Residency {
    residentPages: number
    totalPages: number
  }

  export interface SegmentStat {
    size: number
    /** Bytes of memory or disk the object holds now (st_blocks * 512). */
    allocated: number
    mode: number
    uid: number
    gid: number
    ino: number
    dev: number
    nlink: number
    atimeMs: number
    mtimeMs: number
    ctimeMs: number
    atime: Date
    mtime: Date
    ctime: Date
  }

  export interface SysvStat {
    key: number
    id: number
    size: number
    mode: number
    uid: number
    gid: number
    cuid: number
    cgid: number
    /** Attachments now, in every process. */
    nattch: number
    /** The creator's pid. */
    cpid: number
    /** The pid of the last shmat or shmdt. */
    lpid: number
    atimeMs: number
    dtimeMs: number
    ctimeMs: number
    atime: Date
    dtime: Date
    ctime: Date
  }

  /** What stat() returns for a segment of kind K: SysvStat for System V, else SegmentStat. */
  export type StatOf<K extends SegmentKind> = K extends 'sysv' ? SysvStat : SegmentStat

  /**
   * A mapped segment. K is its kind when the call that made it decides it (create() gives
   * Segment<'posix'>, sysv.create() Segment<'sysv'>), so that stat() has the matching shape.
   * Plain Segment is a segment of any kind, whose stat() is SegmentStat | SysvStat.
   */
  export class Segment<K extends SegmentKind = SegmentKind> {
    private constructor ()
    /**
     * '/name' (POSIX), the memfd's name, the file's path; null for System V, and for a POSIX
     * object that fromFd() mapped after its name was unlinked.
     */
    readonly name: string | null
    readonly kind: K
    readonly size: number
    readonly readOnly: boolean
    /** The segment's own fd; null for System V and after close(). */
    readonly fd: number | null
    /** System V key; null for the other kinds. */
    readonly key: number | null
    /** System V id; null for the other kinds. */
    readonly id: number | null
    /** True when the call that made this Segment created the object. */
    readonly created: boolean
    readonly closed: boolean
    /**
     * One Buffer over the whole mapping, the same object every time. Over
     * buffer.constants.MAX_LENGTH it throws ERR_OUT_OF_RANGE: use view().
     */
    readonly buffer: Buffer
    /** One ArrayBuffer over the whole mapping; the same rule as buffer. */
    readonly arrayBuffer: ArrayBuffer
    /**
     * One SharedArrayBuffer over the whole mapping, the same object every time: postMessage
     * hands it to a worker, Atomics.wait/notify work on it between threads. close() cannot
     * detach it: the memory stays mapped until the last SharedArrayBuffer over it (here or in
     * a worker) is garbage-collected. ERR_SHMEM_UNSUPPORTED on a runtime without
     * node_api_create_external_sharedarraybuffer (Node 20; 22.x before 22.23.3, 24.x before
     * 24.16.0, 26.x before 26.1.0); the same size rule as buffer.
     */
    readonly sharedArrayBuffer: SharedArrayBuffer
    /**
     * A view at byteOffset; length counts elements (bytes for DataView and Buffer). With
     * { shared: true } it is over sharedArrayBuffer (or a SharedArrayBuffer window of its own).
     */
    view (Type: BufferConstructor, byteOffset?: Size, length?: Size,
      options?: ViewOptions): Buffer
    view (Type: DataViewConstructor, byteOffset?: Size, length?: Size,
      options?: ViewOptions): DataView
    view<T extends TypedArrayConstructor> (Type: T, byteOffset?: Size, length?: Size,
      options?: ViewOptions): InstanceType<T>
    advise (advice: Advice, offset?: Size, length?: Size): void
    sync (options?: SyncOptions): void
    residency (options?: RangeOptions): Residency
    lockMemory (options?: { onFault?: boolean }): void
    unlockMemory (): void
    /** fstat(2): SegmentStat; for System V, IPC_STAT: SysvStat. */
    stat (): StatOf<K>
    /** Unmaps; every Buffer and view it handed out becomes detached (length 0). Idempotent. */
    close (): void
    /** shm_unlink (POSIX only). False when the name was already gone. */
    unlink (): boolean
    /** IPC_RMID (System V only). False when it was already removed. */
    remove (): boolean
    /**
     * flock(2) on this Segment's own open file description; blocks the thread. Throws
     * ERR_SHMEM_WOULD_DEADLOCK when only this thread could release what it waits for.
     * true when held; false when options.timeout passed first.
     */
    lock (mode: FileLockMode, options?: { timeout?: number }): boolean
    /** true when held; false at once when another open file description holds a conflicting lock. */
    tryLock (mode: FileLockMode): boolean
    /**
     * Waits on a thread of its own (polling, within 2 ms of a release); the loop runs.
     * Resolves true when held, false when options.timeout passed first.
     */
    lockAsync (mode: FileLockMode, options?: AsyncWaitOptions): Promise<boolean>
    /** ERR_SHMEM_NOT_OWNER when this Segment holds no file lock. */
    unlock (): void
    /** The file lock this Segment holds now. */
    readonly fileLock: FileLockMode | null
    [Symbol.dispose] (): void
  }

  export type FileLockMode = 'shared' | 'exclusive'
  /**
   * What a Mutex or RwLock acquire returns: true when acquired; 'recovered' when acquired
   * from a holder that died with the lock (held, so truthy, but the data it guards may be
   * half-written); false when busy or timed out. No failure is truthy: `if (m.tryLock())`
   * enters its branch only with the lock held.
   */
  export type LockResult = boolean | 'recovered'
  /** The same as LockResult: true | 'recovered' when acquired, false when busy. */
  export type TryLockResult = LockResult
  export type WaitResult = 'ok' | 'not-equal' | 'timed-out'

  export interface SyncWaitOptions {
    /** Milliseconds; Infinity (the default) waits for ever, 0 only tries. */
    timeout?: number
  }
  export interface AsyncWaitOptions extends SyncWaitOptions {
    /** Rejects the wait with an AbortError (code 'ABORT_ERR') when it fires. */
    signal?: AbortSignal
  }

  /** What Node's own APIs reject with when an AbortSignal fires. */
  export class AbortError extends Error {
    readonly name: 'AbortError'
    readonly code: 'ABORT_ERR'
  }

  /**
   * A mutex inside a segment, shared by processes and threads. Acquires return true when
   * acquired, 'recovered' when the previous holder died holding it (the lock is the caller's
   * and the data may be half-written), false when busy or timed out.
   */
  export class Mutex {
    private constructor ()
    static readonly byteLength: number
    static readonly alignment: number
    /** Writes a fresh, unlocked mutex at segment[offset]. */
    static init (segment: Segment, offset: number): Mutex
    /** Checks what is at segment[offset]: ERR_SHMEM_BAD_STATE unless it is a Mutex. */
    static attach (segment: Segment, offset: number): Mutex
    /** Blocks the thread: true | 'recovered' when acquired, false when options.timeout passed. */
    lock (options?: SyncWaitOptions): LockResult
    /** Never waits: true | 'recovered' when acquired, false when busy. */
    tryLock (): TryLockResult
    /** The loop runs: true | 'recovered' when acquired, false when options.timeout passed. */
    lockAsync (options?: AsyncWaitOptions): Promise<LockResult>
    /** ERR_SHMEM_NOT_OWNER unless this thread holds it. */
    unlock (): void
    /** fn runs holding the lock, given true or 'recovered'; ERR_SHMEM_TIMED_OUT on a timeout. */
    withLock<T> (fn: (result: true | 'recovered') => T | Promise<T>,
      options?: AsyncWaitOptions): Promise<T>
    /** withLock() that blocks the thread; fn's value. */
    withLockSync<T> (fn: (result: true | 'recovered') => T, options?: SyncWaitOptions): T
    readonly locked: boolean
    readonly recoveries: number
  }

  /**
   * Many readers or one writer, inside a segment; writers are preferred. Acquires return
   * true, 'recovered' (a writer died holding it: every reader hears so until the next
   * writer), or false when busy or timed out.
   */
  export class RwLock {
    private constructor ()
    static readonly byteLength: number
    static readonly alignment: number
    /** Threads that may hold read locks at once. */
    static readonly maxReaders: number
    static init (segment: Segment, offset: number): RwLock
    static attach (segment: Segment, offset: number): RwLock
    /** Blocks the thread: true | 'recovered' when acquired, false when options.timeout passed. */
    readLock (options?: SyncWaitOptions): LockResult
    /** Never waits: true | 'recovered' when acquired, false when busy. */
    tryReadLock (): TryLockResult
    /** The loop runs: true | 'recovered' when acquired, false when options.timeout passed. */
    readLockAsync (options?: AsyncWaitOptions): Promise<LockResult>
    /** Blocks the thread: true | 'recovered' when acquired, false when options.timeout passed. */
    writeLock (options?: SyncWaitOptions): LockResult
    /** Never waits: true | 'recovered' when acquired, false when busy. */
    tryWriteLock (): TryLockResult
    /** The loop runs: true | 'recovered' when acquired, false when options.timeout passed. */
    writeLockAsync (options?: AsyncWaitOptions): Promise<LockResult>
    /** Releases this thread's write lock, or else one of its read locks. */
    unlock (): void
    /** fn runs holding a read lock, given true or 'recovered'; ERR_SHMEM_TIMED_OUT on a timeout. */
    withReadLock<T> (fn: (result: true | 'recovered') => T | Promise<T>,
      options?: AsyncWaitOptions): Promise<T>
    /** fn runs holding the write lock, given true or 'recovered'; ERR_SHMEM_TIMED_OUT on a timeout. */
    withWriteLock<T> (fn: (result: true | 'recovered') => T | Promise<T>,
      options?: AsyncWaitOptions): Promise<T>
    readonly readers: number
    readonly writeLocked: boolean
    readonly recoveries: number
  }

  /** A counting semaphore inside a segment. */
  export class Semaphore {
    private constructor ()
    static readonly byteLength: number
    static readonly alignment: number
    static readonly maxValue: number
    static init (segment: Segment, offset: number, initialCount?: number): Semaphore
    static attach (segment: Segment, offset: number): Semaphore
    /** Takes one unit, blocking while the count is 0: true, or false when options.timeout passed. */
    wait (options?: SyncWaitOptions): boolean
    /** Takes one unit if the count is above 0: true, else false at once. */
    tryWait (): boolean
    /** wait() while the loop runs: true, or false when options.timeout passed. */
    waitAsync (options?: AsyncWaitOptions): Promise<boolean>
    /** Adds n (default 1) and wakes up to n waiters. */
    post (n?: number): void
    readonly value: number
  }

  /** Atomics.wait across processes, on an Int32Array view of a segment; blocks the thread. */
  export function wait (int32Array: Int32Array, index: number, expected: number,
    timeoutMs?: number): WaitResult
  /** The same on a thread of its own, while the event loop runs. */
  export function waitAsync (int32Array: Int32Array, index: number, expected: number,
    timeoutMs?: number): Promise<WaitResult>
  /** Wakes up to count (default all) sleepers in every process; returns how many woke. */
  export function notify (int32Array: Int32Array, index: number, count?: number): number

  /**
   * Creates a POSIX shared memory object (shm_open with O_CREAT | O_EXCL) and maps it.
   * EEXIST when the name exists. options.autoUnlink: the name is removed when this process
   * closes the segment or ends.
   */
  export function create (name: string, size: Size, options?: CreateOptions): Segment<'posix'>
  /** Opens an existing POSIX object; its size comes from fstat unless options.size is given. */
  export function open (name: string, options?: OpenOptions): Segment<'posix'>
  /**
   * Creates the object, or opens it when it exists; segment.created says which.
   * options.autoUnlink applies only when this call created the object.
   */
  export function openOrCreate (name: string, size: Size, options?: CreateOptions): Segment<'posix'>
  /** shm_unlink(3). True, or false when there was nothing to unlink. */
  export function unlink (name: string): boolean
  /** An anonymous memfd (Linux); share it by handing segment.fd to another process. */
  export function memfd (size: Size, options?: MemfdOptions): Segment<'memfd'>
  /**
   * Maps an fd this process inherited or received: a memfd, a POSIX object or a file (the
   * kind says which; never System V). The segment holds a duplicate, so the caller may close fd.
   */
  export function fromFd (fd: number, options?: FromFdOptions): Segment<'posix' | 'memfd' | 'file'>
  /**
   * Maps a file. options: size (default: the file from offset on), offset (any byte), create
   * (create the file, or extend it, to offset + size), mode, readOnly, private (MAP_PRIVATE).
   * A symlink as the path's last component is refused (ELOOP); create adopts an existing
   * file only when it is a regular file of this process's effective user (else EPERM).
   */
  export function mapFile (path: string | URL | Buffer, options?: MapFileOptions): Segment<'file'>

  export const sysv: {
    /**
     * shmget(IPC_CREAT | IPC_EXCL) and shmat. key null: a fresh random key, read it from
     * segment.key. options.autoUnlink: IPC_RMID when this process closes the segment or ends.
     */
    create (key: number | null, size: Size, options?: CreateOptions): Segment<'sysv'>
    /** Attaches the segment with this key; options.size maps only its first bytes. */
    open (key: number, options?: OpenOptions): Segment<'sysv'>
    /** IPC_RMID by key. True, or false when no segment has that key. */
    remove (key: number): boolean
  }

  /** Raw mmap(2) as a Buffer, unmapped when garbage-collected. */
  export function map (
    size: Size,
    protection: number,
    flags: number,
    fd: number | null,
    offset?: Size,
    advice?: Advice
  ): Buffer

  export const constants: Readonly<Record<
    | 'PROT_NONE' | 'PROT_READ' | 'PROT_WRITE' | 'PROT_EXEC'
    | 'MAP_SHARED' | 'MAP_PRIVATE' | 'MAP_SHARED_VALIDATE' | 'MAP_ANONYMOUS' | 'MAP_ANON'
    | 'MAP_FIXED' | 'MAP_NORESERVE' | 'MAP_POPULATE' | 'MAP_HUGETLB' | 'MAP_HUGE_SHIFT'
    | 'MAP_HUGE_MASK' | 'MAP_HUGE_2MB' | 'MAP_HUGE_1GB' | 'MAP_LOCKED' | 'MAP_NONBLOCK'
    | 'MADV_NORMAL' | 'MADV_RANDOM' | 'MADV_SEQUENTIAL' | 'MADV_WILLNEED' | 'MADV_DONTNEED'
    | 'MADV_FREE' | 'MADV_REMOVE' | 'MADV_DONTFORK' | 'MADV_DOFORK' | 'MADV_MERGEABLE'
    | 'MADV_UNMERGEABLE' | 'MADV_HUGEPAGE' | 'MADV_NOHUGEPAGE' | 'MADV_DONTDUMP' | 'MADV_DODUMP'
    | 'MADV_WIPEONFORK' | 'MADV_KEEPONFORK' | 'MADV_COLD' | 'MADV_PAGEOUT'
    | 'MADV_POPULATE_READ' | 'MADV_POPULATE_WRITE' | 'MADV_COLLAPSE'
    | 'MS_ASYNC' | 'MS_SYNC' | 'MS_INVALIDATE' | 'MLOCK_ONFAULT'
    | 'IPC_PRIVATE' | 'IPC_CREAT' | 'IPC_EXCL' | 'IPC_NOWAIT' | 'IPC_RMID' | 'IPC_SET' | 'IPC_STAT'
    | 'SHM_RDONLY' | 'SHM_HUGETLB',
    number>>

  /** The creator shmem recorded for a segment made with autoUnlink. */
  export interface Creator {
    pid: number
    /** Field 22 of /proc/<pid>/stat: clock ticks after boot (tells a reused pid apart). */
    startTime: number | null
    /** null: this process cannot tell (the creator ran in another pid namespace). */
    alive: boolean | null
  }

  /** One segment as shmem.list() reports it. */
  export interface ListEntry {
    kind: 'posix' | 'sysv'
    /** '/name' (POSIX); null for System V. */
    name: string | null
    /** System V key (0 for IPC_PRIVATE); null for POSIX. */
    key: number | null
    /** System V id; null for POSIX. */
    id: number | null
    /** Inode of a POSIX object; null for System V. */
    ino: number | null
    size: number
    /** Permission bits. */
    mode: number
    uid: number
    gid: number
    /** System V attachments; null for POSIX. */
    nattch: number | null
    /** System V creator pid; null for POSIX. */
    cpid: number | null
    /** System V pid of the last shmat/shmdt; null for POSIX. */
    lpid: number | null
    /** System V: removed (IPC_RMID), goes when the last process detaches. */
    pendingRemoval: boolean
    /** Birth time (POSIX; ctime where the kernel has none) or creation time (System V). */
    createdMs: number
    ageMs: number
    /** Made by shmem with autoUnlink (a creator record matches this very object). */
    autoUnlink: boolean
    creator: Creator | null
  }

  export interface GcEntry extends ListEntry {
    /** True when this call removed it (always false with dryRun). */
    removed: boolean
    /** Why it could not be removed, or null. */
    error: Error | null
  }

  /**
   * Every POSIX shared memory object (/dev/shm, except sem.* semaphores) and System V segment
   * visible to this user. Linux only.
   */
  export function list (): ListEntry[]

  /**
   * Removes the segments shmem created with autoUnlink whose creator is dead, and nothing
   * else. dryRun: only report them. Linux only.
   */
  export function gc (options?: { dryRun?: boolean }): GcEntry[]

  export const pageSize: number
  /** The default huge page size in bytes; 0 when the system has none. */
  export const hugePageSize: number

  // ---- Channels (docs/channel-format.md) ----------------------------------------------------

  export type ChannelKind = 'spsc' | 'mpsc' | 'mpmc'
  export type ChannelData = Buffer | NodeJS.TypedArray | DataView | ArrayBuffer | string

  export interface ChannelOptions {
    /** Ring bytes, 1 to 2^30; rounded up to a power of two (at least 64). */
    capacity: number
    /** Largest message in bytes; default and maximum: capacity / 2 - 16 (after rounding). */
    maxMessageSize?: number
    kind: ChannelKind
  }

  export interface ChannelCreateOptions extends ChannelOptions {
    /** Permission bits of the new POSIX object (default 0o600). */
    mode?: number | string
    /** Passed to shmem.create(). */
    autoUnlink?: boolean
  }

  export interface ChannelWaitOptions {
    /** Milliseconds; default: no limit. 0 tries once. */
    timeout?: number
  }

  export interface ChannelAsyncOptions extends ChannelWaitOptions {
    /** Aborting rejects with an AbortError (code 'ABORT_ERR'). */
    signal?: AbortSignal
  }

  export interface ChannelStats {
    capacity: number
    used: number
    messagesSent: number
    messagesReceived: number
    bytesSent: number
    bytesReceived: number
    /** Handles that have sent and are not closed (a process killed is never subtracted). */
    senders: number
    receivers: number
    /** Reservations of dead senders that receivers skipped. */
    abandoned: number
  }

  export class Channel implements AsyncIterable<Buffer> {
    private constructor ()
    /** Makes a new POSIX segment `name` holding an empty channel. */
    static create (name: string, options: ChannelCreateOptions): Channel
    /**
     * Opens the channel in POSIX segment `name`. While the object is empty or its header has no
     * magic yet (another process's create() under way) it looks again for up to 100 ms
     * (SHMEM_CHANNEL_OPEN_WAIT_MS), then throws ERR_SHMEM_BAD_STATE.
     */
    static open (name: string): Channel
    /** Bytes a channel with these options needs (384 + the rounded capacity). */
    static byteLength (options: ChannelOptions): number
    /** Formats byteLength bytes at offset (a multiple of 64) of any segment as a new channel. */
    static init (segment: Segment, offset: number, byteLength: number, options: ChannelOptions): Channel
    /** Attaches to the channel at offset of a segment. */
    static attach (segment: Segment, offset?: number): Channel

    readonly kind: ChannelKind
    readonly capacity: number
    readonly maxMessageSize: number
    readonly segment: Segment
    readonly closed: boolean

    /** false when the ring has no room now. Oversize: RangeError ERR_OUT_OF_RANGE. */
    send (data: ChannelData): boolean
    sendSync (data: ChannelData, options?: ChannelWaitOptions): 'ok' | 'timed-out'
    sendAsync (data: ChannelData, options?: ChannelAsyncOptions): Promise<'ok' | 'timed-out'>
    /** Never waits; the Buffer is the caller's own copy. */
    receive (): Buffer | null
    /** Bytes written into target; null when there is no message. */
    receiveInto (target: NodeJS.ArrayBufferView | ArrayBuffer): number | null
    receiveSync (options?: ChannelWaitOptions): Buffer | null
    receiveAsync (options?: ChannelAsyncOptions): Promise<Buffer | null>
    [Symbol.asyncIterator] (): AsyncIterator<Buffer>
    /** Zero copy: a view of n bytes in the ring, or null when full; then commit() or abort(). */
    reserve (n: number): Buffer | null
    commit (length?: number): void
    abort (): void
    /** Zero copy: a view of the next message in the ring, or null; valid until release(). */
    peek (): Buffer | null
    /** peek() that waits (an addition to the API). */
    peekSync (options?: ChannelWaitOptions): Buffer | null
    release (): void
    stats (): ChannelStats
    close (): void
  }

  export type SharedMapEncoding = 'buffer' | 'utf8' | 'json' | 'v8'
  export type SharedMapKey = string | Buffer | NodeJS.TypedArray | DataView
  /** The value type each encoding stores and gives back. */
  export interface SharedMapValueOf {
    buffer: Buffer
    utf8: string
    json: any
    v8: any
  }

  export interface SharedMapOptions<E extends SharedMapEncoding = SharedMapEncoding> {
    /** Entries, 1 to 2^26 (default 1024). */
    capacity?: number
    /** Longest key in bytes (UTF-8 for strings), 1 to 65536 (default 64). */
    maxKeyBytes?: number
    /** Longest stored value in bytes, 0 to 2^30 (default 1024). */
    maxValueBytes?: number
    /** What a full map does with a new key: evict one not read lately (default), or throw. */
    evict?: 'lru' | 'none'
    /** Default time to live of a set, in ms (default: none). */
    ttl?: number
    /** How values are stored (default 'json'). */
    encoding?: E
  }

  export interface SharedMapCreateOptions<E extends SharedMapEncoding = SharedMapEncoding>
    extends SharedMapOptions<E> {
    /** Permission bits of the new POSIX object (default 0o600). */
    mode?: number | string
    /** Passed to shmem.create(). */
    autoUnlink?: boolean
  }

  export interface SharedMapSetOptions {
    /** ms until the key expires; 0 or Infinity: never; default: the map's ttl. */
    ttl?: number
  }

  export interface SharedMapStats {
    /** Live entries (expired ones count until a writer removes them). */
    entries: number
    /** Key and value bytes stored now. */
    bytes: number
    capacity: number
    hits: number
    misses: number
    evictions: number
    expirations: number
    /** Writers that died holding the lock, whose work the next writer repaired. */
    recoveries: number
  }

  /** A key-value cache in shared memory: every process on the host reads it at memory speed. */
  export class SharedMap<V = any> implements Iterable<[string | Buffer, V]> {
    private constructor ()
    static byteLength (options?: SharedMapOptions): number
    static create<E extends SharedMapEncoding = 'json'> (name: string,
      options?: SharedMapCreateOptions<E>): SharedMap<SharedMapValueOf[E]>
    /** Opens the map another process created (waits up to 100 ms for one being created). */
    static open<V = any> (name: string): SharedMap<V>
    static openOrCreate<E extends SharedMapEncoding = 'json'> (name: string,
      options?: SharedMapCreateOptions<E>): SharedMap<SharedMapValueOf[E]>
    /** Formats byteLength bytes of segment at offset (a multiple of 64) as an empty map. */
    static init<E extends SharedMapEncoding = 'json'> (segment: Segment, offset: number,
      byteLength: number, options?: SharedMapOptions<E>): SharedMap<SharedMapValueOf[E]>
    static attach<V = any> (segment: Segment, offset?: number): SharedMap<V>
    readonly capacity: number
    readonly maxKeyBytes: number
    readonly maxValueBytes: number
    readonly evict: 'lru' | 'none'
    readonly encoding: SharedMapEncoding
    /** The default ttl in ms (0: none). */
    readonly ttl: number
    readonly segment: Segment
    readonly closed: boolean
    /** The number of entries. */
    readonly size: number
    get (key: SharedMapKey): V | undefined
    /** Copies the stored bytes into target: how many, or -1 when absent. */
    getInto (key: SharedMapKey, target: Buffer | NodeJS.TypedArray | DataView): number
    has (key: SharedMapKey): boolean
    set (key: SharedMapKey, value: V, options?: SharedMapSetOptions): this
    delete (key: SharedMapKey): boolean
    /** fn runs under the writer lock; its value is stored (undefined deletes the key). */
    update (key: SharedMapKey, fn: (value: V | undefined) => V | undefined,
      options?: SharedMapSetOptions): V | undefined
    /** Adds by (default 1), as Redis INCRBY: the new value. */
    increment (key: SharedMapKey, by?: number): number
    clear (): void
    /** Removes the expired keys now: how many. */
    purgeStale (): number
    stats (): SharedMapStats
    /** Keys come back as strings when they were set as strings, else as Buffers. */
    keys (): IterableIterator<string | Buffer>
    values (): IterableIterator<V>
    entries (): IterableIterator<[string | Buffer, V]>
    [Symbol.iterator] (): IterableIterator<[string | Buffer, V]>
    close (): void
    [Symbol.dispose] (): void
  }
}

export = shmem
