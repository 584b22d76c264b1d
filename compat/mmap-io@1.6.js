'use strict'
/**
 * A drop-in replacement for @riaskov/mmap-io 1.6, built on shmem:
 *
 *   const mmap = require('shmem/compat/mmap-io@1.6')   // was: require('@riaskov/mmap-io')
 *
 * map() returns a SharedArrayBuffer over the mapping (where this Node has Node-API's
 * node_api_create_external_sharedarraybuffer: 22.23.3, 24.16.0, 26.1.0 and later; elsewhere
 * it throws ERR_SHMEM_UNSUPPORTED); advise(), sync(), incore() and unmap() take it or any view
 * of it. Everything else is as shmem/compat/mmap-io; the differences from the original are in
 * docs/migrating.md.
 */

module.exports = require('./mmap-io-api').build(true)
