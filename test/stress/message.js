'use strict'
// Stress messages carry who sent them and their place in that sender's stream, so the checker
// counts lost and duplicated messages exactly: [producer id u32][seq u32][length u32], then
// bytes that are a function of all three (a torn or mixed-up message fails the check).

const { H, S } = require('./ledger')

const HEAD = 12

function fill (buf, producer, seq, len) {
  buf.writeUInt32LE(producer, 0)
  buf.writeUInt32LE(seq, 4)
  buf.writeUInt32LE(len, 8)
  const base = producer * 7 + seq * 13
  for (let i = HEAD; i < len; i++) buf[i] = (base + i) & 255
}

// Mostly small messages, and now and then one up to `max` bytes.
function messageLength (max) {
  if (Math.random() < 0.02) return HEAD + Math.floor(Math.random() * (max - HEAD))
  return HEAD + Math.floor(Math.random() * 240)
}

// A consumer's checker: check(msg) validates a message (undefined when it is corrupt, which
// is counted); record(m) marks it consumed and counts duplicates, reordering and phantoms.
function consumer (ledger, id, bitmapBits) {
  const lastSeq = new Map()

  function check (msg) {
    if (msg.length < HEAD) {
      ledger.anomaly(H.corrupt, id, -1, msg.length)
      return undefined
    }
    const producer = msg.readUInt32LE(0)
    const seq = msg.readUInt32LE(4)
    const len = msg.readUInt32LE(8)
    if (len !== msg.length || producer < 1 || producer > ledger.get(H.maxId) ||
        seq >= bitmapBits) {
      ledger.anomaly(H.corrupt, id, producer, seq)
      return undefined
    }
    const base = producer * 7 + seq * 13
    for (let i = HEAD; i < len; i++) {
      if (msg[i] !== ((base + i) & 255)) {
        ledger.anomaly(H.corrupt, id, producer, seq)
        return undefined
      }
    }
    return { producer, seq }
  }

  function record (m) {
    if (m === undefined) return
    const { producer, seq } = m
    // A producer stores `sent` once each send returns, so a message seen here has
    // seq <= sent (equal while that store is still to come). Above: nobody sent it.
    if (seq > ledger.getSlot(producer, S.sent)) ledger.anomaly(H.phantom, id, producer, seq)
    if (!ledger.mark(producer, seq)) ledger.anomaly(H.duplicated, id, producer, seq)
    const last = lastSeq.get(producer)
    if (last !== undefined && seq <= last) ledger.anomaly(H.reordered, id, producer, seq)
    lastSeq.set(producer, seq)
    ledger.addSlot(id, S.consumed)
    ledger.add(H.progress)
  }

  return { check, record }
}

module.exports = { HEAD, fill, messageLength, consumer }
