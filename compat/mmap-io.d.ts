// Types for shmem/compat/mmap-io: the API of the mmap-io package.
/// <reference types="node" />

type FileDescriptor = number

interface MmapIo {
  /**
   * mmap(2) of fd as a Buffer, unmapped when the Buffer is garbage-collected.
   * size: 1 .. buffer.constants.MAX_LENGTH; offset: any byte offset.
   */
  map (size: number, protection: number, privacy: number, fd: FileDescriptor,
    offset?: number, advise?: number): Buffer

  /** madvise(2) over the whole Buffer, or over [offset, offset + length) of it. */
  advise (buffer: Buffer, advise: number): void
  advise (buffer: Buffer, offset: number, length: number, advise: number): void

  /** mincore(2): [unmappedPages, mappedPages]. */
  incore (buffer: Buffer): [number, number]

  /** msync(2): MS_ASYNC unless blockingSync, with MS_INVALIDATE when invalidatePages. */
  sync (buffer: Buffer, offset?: number, length?: number, blockingSync?: boolean,
    invalidatePages?: boolean): void
  sync (buffer: Buffer, blockingSync: boolean, invalidatePages?: boolean): void

  readonly PROT_READ: number
  readonly PROT_WRITE: number
  readonly PROT_EXEC: number
  /** The README's spelling of PROT_EXEC. */
  readonly PROT_EXECUTE: number
  readonly PROT_NONE: number
  readonly MAP_SHARED: number
  readonly MAP_PRIVATE: number
  readonly MAP_NONBLOCK: number
  readonly MAP_POPULATE: number
  readonly MADV_NORMAL: number
  readonly MADV_RANDOM: number
  readonly MADV_SEQUENTIAL: number
  readonly MADV_WILLNEED: number
  readonly MADV_DONTNEED: number
  readonly PAGESIZE: number

  readonly default: MmapIo
}

declare const mmap: MmapIo
export = mmap
