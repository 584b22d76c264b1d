// Types for shmem/compat/mmap-io@1.6: the API of @riaskov/mmap-io 1.6. The module's exports are
// one object (module.exports = mmap), declared as a namespace and `export =`; mmap-io@1.6.d.mts
// gives the same names to ESM.
/// <reference types="node" />

declare namespace mmap {
  export type FileDescriptor = number

  /** What advise, incore, sync and unmap take: the mapping or any view of it. */
  export type MmapBuffer = SharedArrayBuffer | ArrayBuffer | ArrayBufferView

  /**
   * mmap(2) of fd as a SharedArrayBuffer, unmapped when it is garbage-collected (in every
   * thread it reached). Needs Node.js 22.23.3, 24.16.0, 26.1.0 or later (else
   * ERR_SHMEM_UNSUPPORTED).
   * size: 1 .. buffer.constants.MAX_LENGTH; offset: a multiple of PAGESIZE. Pages past the
   * end of the file read as zeros and take writes that reach no file.
   */
  export function map (size: number, protection: number, privacy: number, fd: FileDescriptor,
    offset?: number, advise?: number): SharedArrayBuffer

  /** madvise(2) over the whole Buffer, or over [offset, offset + length) of it. */
  export function advise (buffer: MmapBuffer, advise: number): void
  export function advise (buffer: MmapBuffer, offset: number, length: number, advise: number): void

  /** mincore(2): [unmappedPages, mappedPages]. */
  export function incore (buffer: MmapBuffer): [number, number]

  /**
   * Unmaps now: true when this call did, false when the mapping was gone already or map() did
   * not make it. A SharedArrayBuffer cannot be detached: its pages become zeros that no file
   * backs, freed when it is collected.
   */
  export function unmap (buffer: MmapBuffer): boolean

  /** msync(2): MS_ASYNC unless blockingSync, with MS_INVALIDATE when invalidatePages. */
  export function sync (buffer: MmapBuffer, offset?: number, length?: number, blockingSync?: boolean,
    invalidatePages?: boolean): void
  export function sync (buffer: MmapBuffer, blockingSync: boolean, invalidatePages?: boolean): void

  export const PROT_READ: number
  export const PROT_WRITE: number
  export const PROT_EXEC: number
  /** The README's spelling of PROT_EXEC. */
  export const PROT_EXECUTE: number
  export const PROT_NONE: number
  export const MAP_SHARED: number
  export const MAP_PRIVATE: number
  export const MAP_NONBLOCK: number
  export const MAP_POPULATE: number
  export const MADV_NORMAL: number
  export const MADV_RANDOM: number
  export const MADV_SEQUENTIAL: number
  export const MADV_WILLNEED: number
  export const MADV_DONTNEED: number
  export const PAGESIZE: number
  /** The alignment map()'s offset needs: PAGESIZE (1.6's name for it). */
  export const ALLOCATIONGRANULARITY: number

  /** The module itself, for code written as `require('mmap-io').default`. */
  export { mmap as default }
}

export = mmap
