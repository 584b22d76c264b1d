'use strict'
// One stress worker: a lock user, a channel sender or receiver, or a creator of segments. It
// writes everything it does to the ledger (test/stress/ledger.js) as it goes, so that the
// engine can kill it with SIGKILL at any instruction and still know what it had done.
// Usage: node worker.js '<json config>' (see engine.js, spawnWorker).

const shmem = require('../..')
const { Ledger, H, S, STAGE } = require('./ledger')
const { fill, messageLength, consumer } = require('./message')

const cfg = JSON.parse(process.argv[2])
const ledger = Ledger.open(cfg.ledger, cfg.maxWorkers, cfg.bitmapBits)
const id = cfg.id
const nap = new Int32Array(new SharedArrayBuffer(4))

function sleepMs (ms) { Atomics.wait(nap, 0, 0, ms) }
function spinUs (us) {
  const end = performance.now() + us / 1000
  while (performance.now() < end);
}
function stopping () { return ledger.get(H.stop) !== 0 }
function beat () { ledger.addSlot(id, S.heartbeat) }
function stage (s) { ledger.setSlot(id, S.stage, s) }
// Now and then a worker lingers inside a window (a reservation, a peek, a held lock), so
// that kills land there often enough; otherwise the windows are a few instructions wide.
function linger () {
  const r = Math.random()
  if (r < 0.01) spinUs(100 + Math.random() * 500)
}

// ---- channels -------------------------------------------------------------------------

function sender (channel) {
  const max = Math.min(channel.maxMessageSize, 2000)
  const scratch = Buffer.alloc(max)
  const limit = cfg.bitmapBits
  let seq = 0
  while (!stopping()) {
    beat()
    if (seq >= limit) { sleepMs(5); continue }
    const len = messageLength(max)
    const mode = Math.random()
    ledger.setSlot(id, S.attempt, seq + 1)
    let ok = false
    if (mode < 0.25) {
      const view = channel.reserve(len)
      if (view === null) {
        ledger.setSlot(id, S.attempt, 0)
        sleepMs(1)
        continue
      }
      stage(STAGE.reserved)
      fill(view, id, seq, len)
      linger()
      channel.commit()
      ok = true
    } else {
      stage(STAGE.sending)
      const msg = scratch.subarray(0, len)
      fill(msg, id, seq, len)
      ok = mode < 0.6 ? channel.send(msg) : false
      if (!ok) ok = channel.sendSync(msg, { timeout: 50 }) === 'ok'
    }
    if (ok) {
      ledger.setSlot(id, S.sent, seq + 1)
      seq++
    }
    ledger.setSlot(id, S.attempt, 0)
    stage(STAGE.idle)
  }
}

function receiver (channel) {
  const { check, record } = consumer(ledger, id, cfg.bitmapBits)
  const into = Buffer.alloc(channel.maxMessageSize)
  let waitNext = false
  while (!stopping()) {
    beat()
    const mode = waitNext ? 0.99 : Math.random()
    waitNext = false
    ledger.setSlot(id, S.busy, 1)
    if (mode < 0.3) {
      const view = mode < 0.15 ? channel.peek() : channel.peekSync({ timeout: 50 })
      if (view === null) {
        waitNext = true
      } else {
        const m = check(view)
        if (m !== undefined) {
          ledger.setSlot(id, S.pendProducer, m.producer)
          ledger.setSlot(id, S.pendSeq, m.seq + 1)
        }
        stage(STAGE.peeked)
        linger()
        channel.release()
        stage(STAGE.idle)
        record(m)
        ledger.setSlot(id, S.pendSeq, 0)
        ledger.setSlot(id, S.pendProducer, 0)
      }
    } else if (mode < 0.5) {
      const msg = channel.receive()
      if (msg === null) waitNext = true
      else record(check(msg))
    } else if (mode < 0.7) {
      const n = channel.receiveInto(into)
      if (n === null) waitNext = true
      else record(check(into.subarray(0, n)))
    } else {
      const msg = channel.receiveSync({ timeout: 50 })
      if (msg !== null) record(check(msg))
    }
    ledger.setSlot(id, S.busy, 0)
  }
}

// ---- locks ----------------------------------------------------------------------------

// Whether process pid lives (a zombie, killed and not yet reaped, does not).
function alive (pid) {
  try {
    const stat = require('fs').readFileSync(`/proc/${pid}/stat`, 'latin1')
    return stat[stat.lastIndexOf(')') + 2] !== 'Z'
  } catch {
    return false
  }
}

// Counts the live holders other than this worker whose hold matches `conflicts`.
function otherHolders (conflicts) {
  const maxId = ledger.get(H.maxId)
  let n = 0
  for (let w = 1; w <= maxId; w++) {
    if (w === id) continue
    const h = ledger.getSlot(w, S.hold)
    if (h !== 0 && conflicts(h) && alive(ledger.getSlot(w, S.pid))) n++
  }
  return n
}

function holdFor () {
  if (Math.random() < 0.2) sleepMs(1 + Math.random() * 3)
  else spinUs(Math.random() * 300)
  linger()
}

function result (r) {
  if (r === false) { ledger.add(H.timedOut); return false }
  if (r === 'recovered') ledger.add(H.recovered)
  ledger.add(H.progress)
  return true
}

function lockTimeout () { return 20 + Math.floor(Math.random() * 280) }

function mutexLoop (mutex) {
  while (!stopping()) {
    beat()
    if (!result(mutex.lock({ timeout: lockTimeout() }))) continue
    ledger.setSlot(id, S.hold, 2)
    stage(STAGE.locked)
    if (otherHolders(() => true) > 0) ledger.anomaly(H.overlap, id, 2, 0)
    holdFor()
    stage(STAGE.idle)
    ledger.setSlot(id, S.hold, 0)
    mutex.unlock()
    spinUs(Math.random() * 200)
  }
}

function rwlockLoop (rw) {
  while (!stopping()) {
    beat()
    const write = Math.random() < 0.35
    const r = write ? rw.writeLock({ timeout: lockTimeout() }) : rw.readLock({ timeout: lockTimeout() })
    if (!result(r)) continue
    ledger.setSlot(id, S.hold, write ? 2 : 1)
    stage(STAGE.locked)
    const others = write ? otherHolders(() => true) : otherHolders((h) => h === 2)
    if (others > 0) ledger.anomaly(H.overlap, id, write ? 2 : 1, others)
    holdFor()
    stage(STAGE.idle)
    ledger.setSlot(id, S.hold, 0)
    rw.unlock()
    spinUs(Math.random() * 200)
  }
}

function semaphoreLoop (sem) {
  const permits = cfg.permits
  while (!stopping()) {
    beat()
    ledger.setSlot(id, S.hold, 1)
    if (!result(sem.wait({ timeout: lockTimeout() }))) {
      ledger.setSlot(id, S.hold, 0)
      continue
    }
    // Holders are counted in one shared word: a scan of the others' flags would not be one
    // moment (permits change hands during it). Flag first, count second, and the reverse on
    // the way out: a kill between the two makes the engine's correction (it takes a dead
    // holder's count back) err towards fewer, never a false overlap.
    ledger.setSlot(id, S.hold, 2)
    stage(STAGE.locked)
    const holders = ledger.add(H.inUse) + 1
    if (holders > permits) ledger.anomaly(H.overlap, id, 2, holders)
    holdFor()
    stage(STAGE.idle)
    ledger.add(H.inUse, -1)
    ledger.setSlot(id, S.hold, 3)
    sem.post()
    ledger.setSlot(id, S.hold, 0)
    spinUs(Math.random() * 200)
  }
}

// ---- creators -------------------------------------------------------------------------

function creatorLoop () {
  const kinds = ['spsc', 'mpsc', 'mpmc']
  let n = 0
  while (!stopping()) {
    beat()
    n++
    const name = `${cfg.prefix}-${id}-${n}`
    const asChannel = Math.random() < 0.5
    ledger.setSlot(id, S.itemKind, asChannel ? 1 : 2)
    ledger.setSlot(id, S.item, n)
    stage(STAGE.creating)
    let made
    if (asChannel) {
      made = shmem.Channel.create(name, {
        capacity: 4096 << Math.floor(Math.random() * 4),
        kind: kinds[Math.floor(Math.random() * 3)],
        autoUnlink: true
      })
    } else {
      made = shmem.create(name, 4096 << Math.floor(Math.random() * 6), { autoUnlink: true })
      made.buffer[0] = 1
    }
    stage(STAGE.created)
    linger()
    stage(STAGE.closing)
    made.close()
    stage(STAGE.idle)
    ledger.add(H.progress)
  }
}

// ---- shared maps ----------------------------------------------------------------------

// A map value names its writer, its key and a salt, is of varied length, and ends with a
// checksum of the rest: a torn or mixed-up value fails mapValueOk().
function mapChecksum (text) {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return (h >>> 0).toString(16)
}

function mapValue (k, salt) {
  const head = `${id}.${k}.${salt}.`
  const fill = String.fromCharCode(97 + salt % 26)
  const payload = head.padEnd(head.length + Math.floor(Math.random() * 200), fill)
  return `${payload}|${mapChecksum(payload)}`
}

function mapValueOk (key, v) {
  if (key === 'counter') return /^-?\d+$/.test(String(v))
  const bar = v.lastIndexOf('|')
  if (bar < 0 || mapChecksum(v.slice(0, bar)) !== v.slice(bar + 1)) return false
  return v.split('.')[1] === key.slice(1)
}

function mapWriterLoop (map) {
  let salt = 0
  while (!stopping()) {
    beat()
    const k = Math.floor(Math.random() * cfg.mapKeys)
    const key = `k${k}`
    const r = Math.random()
    salt++
    stage(STAGE.sending)
    if (r < 0.55) {
      map.set(key, mapValue(k, salt))
    } else if (r < 0.8) {
      // The writer lock is held across fn: the engine aims kills here.
      map.update(key, (v) => {
        if (v !== undefined && !mapValueOk(key, v)) ledger.anomaly(H.corrupt, id, k, 1)
        stage(STAGE.locked)
        holdFor()
        return mapValue(k, salt)
      })
    } else if (r < 0.92) {
      map.delete(key)
    } else if (r < 0.99) {
      map.increment('counter')
    } else {
      map.clear()
    }
    stage(STAGE.idle)
    ledger.add(H.progress)
    spinUs(Math.random() * 100)
  }
}

function mapReaderLoop (map) {
  while (!stopping()) {
    beat()
    for (let i = 0; i < 64; i++) {
      const k = Math.floor(Math.random() * (cfg.mapKeys + 1))
      const key = k === cfg.mapKeys ? 'counter' : `k${k}`
      const v = map.get(key)
      if (v !== undefined && !mapValueOk(key, v)) ledger.anomaly(H.corrupt, id, k, 2)
    }
  }
}

// ---- main -----------------------------------------------------------------------------

function main () {
  ledger.setSlot(id, S.pid, process.pid)
  let closeable = null
  let run
  if (cfg.role === 'sender' || cfg.role === 'receiver') {
    const channel = shmem.Channel.open(cfg.channel)
    closeable = channel
    run = () => (cfg.role === 'sender' ? sender(channel) : receiver(channel))
  } else if (cfg.role === 'creator') {
    run = creatorLoop
  } else if (cfg.role === 'map-writer' || cfg.role === 'map-reader') {
    const map = shmem.SharedMap.open(cfg.map)
    closeable = map
    run = () => (cfg.role === 'map-writer' ? mapWriterLoop(map) : mapReaderLoop(map))
  } else {
    const seg = shmem.open(cfg.lockSegment)
    closeable = seg
    if (cfg.role === 'mutex') {
      const m = shmem.Mutex.attach(seg, 0)
      run = () => mutexLoop(m)
    } else if (cfg.role === 'rwlock') {
      const rw = shmem.RwLock.attach(seg, 0)
      run = () => rwlockLoop(rw)
    } else if (cfg.role === 'semaphore') {
      const sem = shmem.Semaphore.attach(seg, 0)
      run = () => semaphoreLoop(sem)
    } else {
      throw new Error(`unknown role ${cfg.role}`)
    }
  }
  ledger.setSlot(id, S.ready, 1)
  run()
  if (closeable !== null) closeable.close()
  ledger.close()
}

try {
  main()
} catch (err) {
  ledger.anomaly(H.errors, id, 0, 0)
  process.stderr.write(`stress worker ${id} (${cfg.role}): ${err && err.stack}\n`)
  process.exitCode = 1
}
