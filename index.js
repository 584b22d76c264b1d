'use strict'
/**
 * shmem: shared memory between processes as Buffers and typed arrays.
 * The API is documented in docs/api.md and typed in index.d.ts.
 */

const binding = require('./lib/binding')
const { Segment } = require('./lib/segment')
const { create, open, openOrCreate, unlink, memfd, fromFd, mapFile, sysv } = require('./lib/open')
const { map } = require('./lib/map')
const { wait, waitAsync, notify } = require('./lib/wait')
const { Mutex, RwLock, Semaphore } = require('./lib/lock')
const { AbortError } = require('./lib/waiting')
const { gc } = require('./lib/lifecycle')
const { list } = require('./lib/list')
const { Channel } = require('./lib/channel')
const { SharedMap } = require('./lib/shared-map')

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
  gc,
  list,
  constants,
  pageSize: binding.pageSize,
  hugePageSize: binding.hugePageSize,
  Segment,
  Mutex,
  RwLock,
  Semaphore,
  wait,
  waitAsync,
  notify,
  AbortError,
  Channel,
  SharedMap
}
