'use strict'
/**
 * shmem: shared memory between processes as Buffers and typed arrays.
 * The API is documented in README.md and typed in index.d.ts.
 */

const binding = require('./lib/binding')
const { Segment } = require('./lib/segment')
const { create, open, openOrCreate, unlink, memfd, fromFd, mapFile, sysv } = require('./lib/open')
const { map } = require('./lib/map')
const { Channel } = require('./lib/channel')

const constants = Object.freeze({ ...binding.constants })

module.exports = {
  create,
  open,
  openOrCreate,
  unlink,
  memfd,
  fromFd,
  mapFile,
  sysv: Object.freeze(sysv),
  map,
  constants,
  pageSize: binding.pageSize,
  hugePageSize: binding.hugePageSize,
  Segment,
  Channel
}
