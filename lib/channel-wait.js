'use strict'
// The blocking waits of a Channel (sendSync, receiveSync, peekSync): each tries the call that
// does not wait, and between tries sleeps in C (channelWaitSync, channelSendWait,
// channelReceiveWait) until the ring changes or the time is up. Also the copy of a native
// receive out of the pool, which receive() shares with receiveSync(). The Channel checks the
// arguments and its own state first; these loops call its public methods and the binding.

const { performance } = require('perf_hooks')
const { isMainThread } = require('worker_threads')
const binding = require('./binding')
const { channelReceiveInto, channelReceiveWait, channelSendWait } = binding
const { pool, POOL_SIZE, SPIN_POLLS } = require('./spsc')
const { READ, WRITE } = require('./channel-pending')
const { byteLengthOf } = require('./channel-options')
const { SLICE_MS } = require('./waiting')

// A native wait's timeout (ms, -1 none) as one call may take it: the whole of it on the main
// thread, at most SLICE_MS in a worker (see waiting.SLICE_MS); the callers loop to the deadline.
const waitSlice = isMainThread
  ? (left) => left
  : (left) => left < 0 || left > SLICE_MS ? SLICE_MS : left

/**
 * What a receive into the pool returned (channelReceiveInto(id, pool.buf, pool.offset, true)):
 * the message's length (a slice of the pool), -1 (none), or -2 - length when it did not fit in
 * what is left of the pool. The message as a Buffer, or null.
 */
function fromPool (channel, id, n) {
  if (n === -1) return null
  if (n >= 0) return pool.take(n)
  n = -2 - n
  if (n <= POOL_SIZE >>> 3) {
    pool.renew()
    return channel.receive()
  }
  // A Buffer of its own. On mpmc another receiver may take this message first: then the
  // next one is copied instead, whatever its length, or null when there is none.
  for (;;) {
    const message = Buffer.allocUnsafeSlow(n)
    const got = channelReceiveInto(id, message, 0, true)
    if (got === -1) return null
    if (got >= 0) return got === n ? message : message.subarray(0, got)
    n = -2 - got
  }
}

/** sendSync() of bytes on a ring with no JavaScript path: C sends and waits in one call. */
function sendNative (id, data, timeout) {
  if (isMainThread) return channelSendWait(id, data, timeout) ? 'ok' : 'timed-out'
  const deadline = timeout < 0 ? -1 : performance.now() + timeout
  for (;;) {
    const left = deadline < 0 ? -1 : Math.max(0, deadline - performance.now())
    if (channelSendWait(id, data, waitSlice(left))) return 'ok'
    if (left <= SLICE_MS && left >= 0) return 'timed-out'
  }
}

/** sendSync() through channel.send(), waiting in C while the ring has no room. */
function sendLoop (channel, id, data, timeout) {
  // The clock is read once the ring turned out to be full: a send with room reads none.
  let deadline = -2
  for (;;) {
    if (channel.send(data)) return 'ok'
    if (deadline === -2) deadline = timeout < 0 ? -1 : performance.now() + timeout
    let left = -1
    if (deadline >= 0) {
      left = deadline - performance.now()
      if (left <= 0) return 'timed-out'
    }
    binding.channelWaitSync(id, WRITE, byteLengthOf(data), waitSlice(left))
  }
}

/** receiveSync() on spsc: receives in JavaScript (channel.receive()), enters C only to wait. */
function receiveSpsc (channel, ring, id, timeout) {
  // A reply often comes within a microsecond or two: look again right here a bounded number
  // of times first (each look is one load of the tail), which is cheaper than the native wait
  // and its clock reads. The clock is read once the ring turned out to be empty.
  // The looks are skipped while the native wait reports the peer on this CPU (2 CPUs: then
  // looking only keeps the peer from running).
  let message = channel.receive()
  if (message !== null || timeout === 0) return message
  for (let i = ring.polls; i > 0; i--) {
    message = channel.receive()
    if (message !== null) return message
  }
  let deadline = -2
  for (;;) {
    const message = channel.receive()
    if (message !== null) return message
    if (deadline === -2) deadline = timeout < 0 ? -1 : performance.now() + timeout
    let left = -1
    if (deadline >= 0) {
      left = deadline - performance.now()
      if (left <= 0) return null
    }
    ring.polls = binding.channelWaitSync(id, READ, 0, waitSlice(left)) === 2 ? 0 : SPIN_POLLS
  }
}

/** receiveSync() on mpsc and mpmc: C waits and copies into the pool in one call. */
function receiveNative (channel, id, timeout) {
  const deadline = timeout < 0 ? -1 : performance.now() + timeout
  let left = timeout
  for (;;) {
    if (POOL_SIZE - pool.offset < 1024) pool.renew()
    const n = channelReceiveWait(id, pool.buf, pool.offset, waitSlice(left))
    if (n !== -1) {
      const message = fromPool(channel, id, n)
      if (message !== null) return message
    }
    // The wait's slice ended, or a long message another mpmc receiver took first: wait on
    // for the time left.
    if (deadline >= 0) {
      left = deadline - performance.now()
      if (left <= 0) return null
    }
  }
}

/** peekSync(): channel.peek() once a message is there, or null when the timeout passes. */
function peekLoop (channel, id, timeout) {
  const deadline = timeout < 0 ? -1 : performance.now() + timeout
  for (;;) {
    const view = channel.peek()
    if (view !== null) return view
    let left = -1
    if (deadline >= 0) {
      left = deadline - performance.now()
      if (left <= 0) return null
    }
    binding.channelWaitSync(id, READ, 0, waitSlice(left))
  }
}

module.exports = { fromPool, sendNative, sendLoop, receiveSpsc, receiveNative, peekLoop }
