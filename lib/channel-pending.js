'use strict'
// The pending receiveAsync() and sendAsync() calls of one Channel: a queue per direction,
// served oldest first when the channel's waiter thread (src/napi/channel.c) reports that the
// ring may have a message (READ) or room (WRITE), and settled one by one at their deadline or
// when their AbortSignal fires. The Channel makes the attempts; this file keeps the order,
// the deadlines and the one armed waiter thread per direction.

const { performance } = require('perf_hooks')
const binding = require('./binding')
const { abortError } = require('./waiting')

const READ = 0
const WRITE = 1

// The PendingOps with calls waiting. A pending call must keep its Channel alive, as a pending
// read keeps a socket: the waiter thread's callback holds the Channel only weakly (so that an
// idle, unclosed Channel can be collected), and a Channel that only a suspended async function
// referred to was collected, its promises never settled and the process exited with the
// messages still in the ring. A PendingOps reaches its Channel through its attempt closure.
const busy = new Set()

class PendingOps {
  #id
  #attempt
  #byteLengthOf
  #ops = [[], []] // oldest first
  #armed = [false, false]
  #armedDeadline = [-1, -1]
  #closed = false

  /**
   * id: the channel's native handle. attempt(which, op): one try at the oldest op: the value
   * to resolve it with, or undefined when it cannot go ahead yet; it throws to reject that op
   * (WRITE: a message that cannot be sent) or, for READ, every pending receive (the ring
   * failed). byteLengthOf(data): what a pending send needs room for.
   */
  constructor (id, attempt, byteLengthOf) {
    this.#id = id
    this.#attempt = attempt
    this.#byteLengthOf = byteLengthOf
  }

  /** True when no call of this direction waits (a new one may try at once, ahead of none). */
  idle (which) {
    return this.#ops[which].length === 0
  }

  /** A Promise for a new pending call; data is the message of a send (kept as is). */
  enqueue (which, timeout, signal, data) {
    return new Promise((resolve, reject) => {
      const op = {
        resolve,
        reject,
        data,
        deadline: timeout < 0 ? -1 : performance.now() + timeout,
        signal,
        onAbort: null
      }
      if (signal) {
        op.onAbort = () => {
          const list = this.#ops[which]
          const i = list.indexOf(op)
          if (i >= 0) list.splice(i, 1)
          this.#settle(op)
          reject(abortError(signal))
          this.#maybeCancel(which)
        }
        signal.addEventListener('abort', op.onAbort, { once: true })
      }
      this.#ops[which].push(op)
      busy.add(this)
      try {
        this.#arm(which)
      } catch (err) {
        this.failAll(which, err)
      }
    })
  }

  #settle (op) {
    if (op.onAbort) op.signal.removeEventListener('abort', op.onAbort)
    if (this.#ops[READ].length === 0 && this.#ops[WRITE].length === 0) busy.delete(this)
  }

  // Asks the waiter thread to wake us when the first pending op may go ahead, or when the
  // earliest deadline passes.
  #arm (which) {
    const list = this.#ops[which]
    if (list.length === 0 || this.#closed) return
    let deadline = -1
    for (const op of list) {
      if (op.deadline >= 0 && (deadline < 0 || op.deadline < deadline)) deadline = op.deadline
    }
    if (this.#armed[which]) {
      // Armed for later than a new op's deadline: wake the thread so we re-arm earlier.
      const armed = this.#armedDeadline[which]
      if (deadline >= 0 && (armed < 0 || deadline < armed)) binding.channelCancel(this.#id, which)
      return
    }
    const n = which === WRITE ? this.#byteLengthOf(list[0].data) : 0
    const left = deadline < 0 ? -1 : Math.max(0, deadline - performance.now())
    binding.channelWait(this.#id, which, n, left)
    this.#armed[which] = true
    this.#armedDeadline[which] = deadline
  }

  // Runs from an AbortSignal's listener: nothing may throw out of it (an uncaught exception
  // there ends the process). A channel whose segment was closed under it has no thread left
  // to cancel.
  #maybeCancel (which) {
    if (this.#ops[which].length === 0 && this.#armed[which] && !this.#closed) {
      try {
        binding.channelCancel(this.#id, which)
      } catch {}
    }
  }

  /** The waiter thread reports (on the loop thread): serve what can go ahead, then re-arm. */
  onWake (which, result) {
    this.#armed[which] = false
    if (this.#closed) return
    const list = this.#ops[which]
    try {
      while (list.length > 0) {
        const op = list[0]
        let value
        try {
          value = this.#attempt(which, op)
        } catch (err) {
          if (which === READ) throw err
          list.shift()
          this.#settle(op)
          op.reject(err)
          continue
        }
        if (value === undefined) break
        list.shift()
        this.#settle(op)
        op.resolve(value)
      }
    } catch (err) {
      // The ring itself failed (ERR_SHMEM_BAD_STATE): every waiting receive hears it.
      this.failAll(which, err)
      return
    }
    const now = performance.now()
    for (let i = list.length - 1; i >= 0; i--) {
      const op = list[i]
      if (op.deadline >= 0 && op.deadline <= now) {
        list.splice(i, 1)
        this.#settle(op)
        op.resolve(which === READ ? null : 'timed-out')
      }
    }
    // `result` (0 ready, ETIMEDOUT, ECANCELED) needs no branch: the ring's state decides.
    // Nothing may throw out of here: this runs from the waiter thread's callback.
    try {
      this.#arm(which)
    } catch (err) {
      this.failAll(which, err)
    }
  }

  /** Rejects every pending op of one direction with err (the wait itself could not go on). */
  failAll (which, err) {
    for (const op of this.#ops[which].splice(0)) {
      this.#settle(op)
      op.reject(err)
    }
  }

  /** The channel closes: every pending op is rejected with an error of its own from
   * closedError(), and nothing re-arms. */
  close (closedError) {
    this.#closed = true
    for (const list of this.#ops) {
      for (const op of list.splice(0)) {
        this.#settle(op)
        op.reject(closedError())
      }
    }
  }
}

module.exports = { PendingOps, READ, WRITE }
