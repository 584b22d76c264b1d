'use strict'
// Locks that live inside a segment: Mutex, RwLock and Semaphore, shared by processes and
// worker threads. The algorithms run in JS, on Atomics over a view of the mapping (hardware
// atomics, across processes), so an uncontended lock + unlock never enters C; C is entered
// only to sleep (a shared futex), to wake, and to ask whether an owner still lives. The
// format and the recovery rules are in docs/locks.md. The parts, in lib/lock/:
//   protocol.js   this thread's identity, the word layout, placing and checking a lock, the
//                 errors, and the owner-word protocol (take, recover, release, wait to own)
//   drive.js      the two drivers that run every acquire loop, blocking or awaiting
//   mutex.js, rwlock.js, semaphore.js   the three classes

const { Mutex } = require('./lock/mutex')
const { RwLock } = require('./lock/rwlock')
const { Semaphore } = require('./lock/semaphore')

module.exports = { Mutex, RwLock, Semaphore }
