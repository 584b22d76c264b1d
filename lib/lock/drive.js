'use strict'
// Sync and async written once: an acquire loop is a generator that yields where it must
// wait, and one of two small drivers runs it, blocking the thread or awaiting (the pattern of
// Babel's gensync). A lock's loops yield sleepOn() requests: sleep on one of its words while
// it holds a value, until a deadline; drive() sleeps in the thread, driveAsync() on a waiter
// thread while the event loop runs. run() and runAsync() hand every yielded value back as it
// is, or awaited.

const binding = require('../binding')
const { closedError } = require('../errors')
const { CANCELLED, SLICE_MS, remaining, futexWaitAsync } = require('../waiting')

/** A request to sleep on word `word` of the lock while it holds `value`, until `deadline`. */
function sleepOn (word, value, deadline) {
  return { word, value, deadline }
}

const identity = (value) => value

// Runs gen to its end: each yielded value goes through perform(value, context), and its
// result (or its error, thrown at the yield) goes back in.
function run (gen, perform = identity, context) {
  let step = gen.next()
  while (!step.done) {
    let result
    try {
      result = perform(step.value, context)
    } catch (err) {
      step = gen.throw(err)
      continue
    }
    step = gen.next(result)
  }
  return step.value
}

// The same, awaiting each perform().
async function runAsync (gen, perform = identity, context, signal) {
  let step = gen.next()
  while (!step.done) {
    let result
    try {
      result = await perform(step.value, context, signal)
    } catch (err) {
      step = gen.throw(err)
      continue
    }
    step = gen.next(result)
  }
  return step.value
}

// A slice of sleep: at most waiting.SLICE_MS, so that a blocked worker can be terminated and
// a dead owner is noticed.
function slice (request) {
  return Math.min(remaining(request.deadline), SLICE_MS)
}

function sleep (request, lock) {
  return binding.futexWait(lock.handle, lock.base + request.word * 4, request.value,
    slice(request), 0)
}

async function sleepAsync (request, lock, signal) {
  const r = await futexWaitAsync(lock.handle, lock.base + request.word * 4, request.value,
    slice(request), signal)
  if (r === CANCELLED || lock.view.length === 0) throw closedError()
  return r
}

/** Runs an acquire loop of `lock` (its placed words), sleeping in this thread. */
function drive (lock, gen) {
  return run(gen, sleep, lock)
}

/** Runs an acquire loop of `lock` while the event loop runs; AbortError on signal. */
function driveAsync (lock, gen, signal) {
  return runAsync(gen, sleepAsync, lock, signal)
}

module.exports = { sleepOn, run, runAsync, drive, driveAsync }
