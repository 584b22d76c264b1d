'use strict'
/**
 * A drop-in replacement for the mmap-io package up to 1.4 (and its forks @luminati-io/mmap-io
 * and @riaskov/mmap-io 1.4.x), built on shmem:
 *
 *   const mmap = require('shmem/compat/mmap-io')   // was: require('mmap-io')
 *
 * map() returns a Buffer over a file mapping, unmapped when the Buffer is garbage-collected
 * or by unmap(); advise(), sync() and incore() take that Buffer (or a slice of it). Sizes up
 * to buffer.constants.MAX_LENGTH and offsets of any size work; a mapping past the end of the
 * file reads zeros there and never faults. For 1.6's API, where map() returns a
 * SharedArrayBuffer: require('shmem/compat/mmap-io@1.6'). What differs from the original,
 * and why, is in docs/migrating.md.
 */

module.exports = require('./mmap-io-api').build(false)
