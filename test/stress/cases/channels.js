'use strict'
// Channel cases: senders, receivers and peekers killed (SIGKILL) or stopped (SIGSTOP) at
// random points, and aimed at the two windows the format documents: a sender between
// reserve() and commit(), a receiver between peek() and release().
//
// What is promised (README "Channels", docs/channel-format.md "Guarantees"): every message
// arrives whole, at most once, in its sender's order; a dead sender's reservation is skipped;
// a message a dead receiver peeked and did not release is delivered again. What a receiver
// was taking when it died may be lost to it: receive() had already moved it out of the ring.
// So: duplicated, corrupt, reordered and phantom must be 0; lost is counted and each lost
// message must be explained by a receiver killed while busy (unexplained: 0).

const shmem = require('../../..')
const { S, STAGE } = require('../ledger')
const { consumer } = require('../message')
const { pick } = require('../engine')

const BITS = 1 << 22 // messages per producer that the ledger can tell apart

function channelCase (kind, roles) {
  return {
    name: kind,
    roles,
    bitmapBits: BITS,
    setup (run) {
      const name = run.name('channel')
      // A small ring: it fills often, so senders wait, wrap and pad.
      run.channel = shmem.Channel.create(name, { capacity: 4096, kind })
      run.deadConsumers = []
      run.inflight = []
      return { channel: name, kind }
    },
    choose (run) {
      const worker = pick(run.live())
      const signal = Math.random() < 0.8 ? 'SIGKILL' : 'SIGSTOP'
      let stage
      if (signal === 'SIGKILL' && Math.random() < 0.4) {
        stage = worker.role === 'sender' ? STAGE.reserved : STAGE.peeked
      }
      return { worker, signal, stage }
    },
    afterKill (run, w, snap) {
      if (w.role === 'receiver') {
        if (snap.busy) {
          run.deadConsumers.push({
            id: w.id,
            peeked: snap.stage === STAGE.peeked && snap.pendSeq !== 0,
            producer: snap.pendProducer,
            seq: snap.pendSeq - 1
          })
        }
        return { tag: 'receiver' }
      }
      if (snap.attempt !== 0) {
        run.inflight.push({ producer: w.id, seq: snap.attempt - 1, reserved: snap.stage === STAGE.reserved })
      }
      return { tag: snap.stage === STAGE.reserved ? 'reserver' : 'sender' }
    },
    async finish (run) {
      // Every worker has exited: drain what is left, as one more consumer (id 0).
      const { check, record } = consumer(run.ledger, 0, BITS)
      let drained = 0
      for (;;) {
        const msg = run.channel.receiveSync({ timeout: 20 })
        if (msg === null) break
        record(check(msg))
        drained++
      }
      const stats = run.channel.stats()
      run.channel.close()
      const l = run.ledger
      // Lost: a message its sender saw sent that nobody consumed.
      const lost = []
      let sent = 0
      for (const w of run.workers.values()) {
        if (w.role !== 'sender') continue
        const n = l.getSlot(w.id, S.sent)
        sent += n
        const base = l.layout.bitmapsAt + w.id * l.layout.bitmapWords
        for (let word = 0; word * 32 < n; word++) {
          const bits = Atomics.load(l.words, base + word)
          if (bits === -1) continue
          for (let b = 0; b < 32 && word * 32 + b < n; b++) {
            if ((bits & (1 << b)) === 0) lost.push({ producer: w.id, seq: word * 32 + b })
          }
        }
      }
      // Explained: a peeker killed inside release() (it had the message, lost it with the
      // release), and one lost message for each receiver killed busy elsewhere.
      let redelivered = 0
      let explained = 0
      const key = (p, s) => `${p}:${s}`
      const lostKeys = new Set(lost.map((m) => key(m.producer, m.seq)))
      let busyElsewhere = 0
      for (const d of run.deadConsumers) {
        if (d.peeked) {
          if (lostKeys.has(key(d.producer, d.seq))) {
            explained++
            lostKeys.delete(key(d.producer, d.seq))
          } else {
            redelivered++
          }
        } else {
          busyElsewhere++
        }
      }
      explained += Math.min(busyElsewhere, lostKeys.size)
      let inflightDelivered = 0
      for (const f of run.inflight) if (l.isMarked(f.producer, f.seq)) inflightDelivered++
      return {
        lost: lost.length,
        lostUnexplained: lost.length - explained,
        lostSample: lost.slice(0, 5),
        sent,
        drained,
        redelivered,
        deadBusyReceivers: run.deadConsumers.length,
        inflightSends: run.inflight.length,
        inflightDelivered,
        abandoned: stats.abandoned
      }
    },
    teardown (run) {
      if (!run.channel.closed) run.channel.close()
    }
  }
}

module.exports = [
  channelCase('spsc', ['sender', 'receiver']),
  channelCase('mpsc', ['sender', 'sender', 'receiver']),
  channelCase('mpmc', ['sender', 'sender', 'receiver', 'receiver'])
]
