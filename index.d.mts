// Type declarations for shmem's ESM entry point (index.mjs): the default export is the
// CommonJS module.exports object, and every member is also a named export. The declarations
// themselves live once, in index.d.ts; test/types.test.js checks that this list names them all.

import shmem from './index.js'

export default shmem

export {
  create, open, openOrCreate, unlink, memfd, fromFd, mapFile, sysv, map, gc, list, constants,
  pageSize, hugePageSize, Segment, Mutex, RwLock, Semaphore, wait, waitAsync, notify,
  AbortError, Channel, SharedMap
} from './index.js'

export type {
  SegmentKind, Size, Advice, TypedArrayConstructor, MapOptions, CreateOptions, OpenOptions,
  MemfdOptions, FromFdOptions, MapFileOptions, ViewOptions, SyncOptions, RangeOptions, Residency,
  SegmentStat, SysvStat, StatOf, FileLockMode, LockResult, TryLockResult, WaitResult,
  SyncWaitOptions, AsyncWaitOptions, Creator, ListEntry, GcEntry, ChannelKind, ChannelData,
  ChannelOptions, ChannelCreateOptions, ChannelWaitOptions, ChannelAsyncOptions, ChannelStats,
  SharedMapEncoding, SharedMapKey, SharedMapValueOf, SharedMapOptions, SharedMapCreateOptions,
  SharedMapSetOptions, SharedMapStats
} from './index.js'
