'use strict'
// The ledger: one POSIX segment the stress engine makes per case, where every worker writes
// what it did with plain Atomics. Shared memory outlives a SIGKILL, so whatever a worker wrote
// before it died is still there for the checker; nothing depends on a pipe that a kill cuts.

const shmem = require('../..')

// Header words.
const H = {
  stop: 0, // 1: workers finish what they hold and exit
  progress: 1, // acquisitions, messages consumed, create cycles: anything that shows liveness
  duplicated: 2, // a message consumed twice
  reordered: 3, // a consumer saw a producer's sequence numbers go backwards
  corrupt: 4, // a message whose bytes are not what its producer wrote
  overlap: 5, // a lock granted to two live holders at once (beyond a Semaphore's count)
  errors: 6, // a worker caught an error it should not have
  phantom: 7, // a message its producer never started to send
  timedOut: 8, // lock waits that ran out of time
  recovered: 9, // lock calls that answered 'recovered'
  maxId: 10, // the highest worker id handed out so far
  inUse: 12, // Semaphore permits held now by live workers (the engine takes a dead one's back)
  detail: 16 // up to 8 records of 4 words: what the first anomalies were
}
const HEADER_WORDS = 64
const DETAILS = 8

// Per-worker slot, 16 words.
const S = {
  pid: 0,
  ready: 1, // 1 once the worker has attached and starts its loop
  heartbeat: 2, // +1 every loop turn, also one that only timed out
  busy: 3, // consumer: 1 from just before a receive/peek until the message is recorded
  pendProducer: 4, // peeker: the message it holds in a peek (producer id, seq + 1)
  pendSeq: 5,
  hold: 6, // locks: 0 none, 1 read lock / taking a permit, 2 exclusive / permit held, 3 posting
  sent: 7, // producer: how many of its messages were confirmed sent (seq 0..sent-1)
  attempt: 8, // producer: seq + 1 of the message being sent now, 0 between sends
  consumed: 9, // consumer: messages recorded
  stage: 10, // where the worker is: see STAGE
  item: 11, // creator: the number of the name it works on
  itemKind: 12 // creator: 1 Channel.create, 2 shmem.create
}
const SLOT_WORDS = 16

// Stages a worker announces, so that the engine can also aim a kill at a window.
const STAGE = {
  idle: 0,
  sending: 1,
  reserved: 2, // between reserve() and commit()
  peeked: 3, // between peek() and release()
  creating: 4,
  created: 5,
  closing: 6,
  locked: 7
}

function layout (maxWorkers, bitmapBits) {
  const slotsAt = HEADER_WORDS
  const bitmapsAt = Math.ceil((slotsAt + maxWorkers * SLOT_WORDS) / 1024) * 1024
  const bitmapWords = bitmapBits / 32
  const words = bitmapsAt + (bitmapBits > 0 ? maxWorkers * bitmapWords : 0)
  return { maxWorkers, bitmapBits, slotsAt, bitmapsAt, bitmapWords, bytes: words * 4 }
}

class Ledger {
  constructor (segment, maxWorkers, bitmapBits) {
    this.segment = segment
    this.layout = layout(maxWorkers, bitmapBits)
    this.words = segment.view(Int32Array)
  }

  static create (name, maxWorkers, bitmapBits) {
    const l = layout(maxWorkers, bitmapBits)
    return new Ledger(shmem.create(name, l.bytes), maxWorkers, bitmapBits)
  }

  static open (name, maxWorkers, bitmapBits) {
    return new Ledger(shmem.open(name), maxWorkers, bitmapBits)
  }

  get (h) { return Atomics.load(this.words, h) }
  add (h, n = 1) { return Atomics.add(this.words, h, n) }
  set (h, v) { Atomics.store(this.words, h, v) }

  slot (id) { return this.layout.slotsAt + id * SLOT_WORDS }
  getSlot (id, f) { return Atomics.load(this.words, this.slot(id) + f) }
  setSlot (id, f, v) { Atomics.store(this.words, this.slot(id) + f, v) }
  addSlot (id, f, n = 1) { return Atomics.add(this.words, this.slot(id) + f, n) }

  snapshot (id) {
    const out = {}
    for (const [k, f] of Object.entries(S)) out[k] = this.getSlot(id, f)
    return out
  }

  // Marks message (producer, seq) consumed: true the first time, false when it already was.
  mark (producer, seq) {
    const { bitmapsAt, bitmapWords } = this.layout
    const w = bitmapsAt + producer * bitmapWords + (seq >>> 5)
    const bit = 1 << (seq & 31)
    return (Atomics.or(this.words, w, bit) & bit) === 0
  }

  isMarked (producer, seq) {
    const { bitmapsAt, bitmapWords } = this.layout
    return (Atomics.load(this.words, bitmapsAt + producer * bitmapWords + (seq >>> 5)) &
      (1 << (seq & 31))) !== 0
  }

  // Counts an anomaly and keeps the first few for the report.
  anomaly (h, a, b, c) {
    const n = this.add(h)
    for (let k = 0; k < DETAILS - 1; k++) {
      const at = H.detail + k * 4
      if (Atomics.compareExchange(this.words, at, 0, h + 1) === 0) {
        Atomics.store(this.words, at + 1, a | 0)
        Atomics.store(this.words, at + 2, b | 0)
        Atomics.store(this.words, at + 3, c | 0)
        break
      }
    }
    return n
  }

  details () {
    const names = Object.fromEntries(Object.entries(H).map(([k, v]) => [v, k]))
    const out = []
    for (let k = 0; k < DETAILS - 1; k++) {
      const at = H.detail + k * 4
      const h = this.get(at)
      if (h === 0) break
      out.push({ what: names[h - 1], a: this.get(at + 1), b: this.get(at + 2), c: this.get(at + 3) })
    }
    return out
  }

  close () { this.segment.close() }
}

module.exports = { Ledger, H, S, STAGE, layout }
