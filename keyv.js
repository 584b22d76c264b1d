'use strict'
/**
 * shmem/keyv: a Keyv storage adapter over a SharedMap (lib/keyv.js).
 *
 *   const { KeyvShmem } = require('shmem/keyv')
 *   const keyv = new Keyv({ store: new KeyvShmem({ name: 'cache', capacity: 10000 }) })
 */
module.exports = require('./lib/keyv')
