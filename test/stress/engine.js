'use strict'
// The crash-injection engine: runs one case (test/stress/cases/*.js) for N rounds. A round
// lets the case's worker processes run for a random 20-100 ms, then kills one of them with
// SIGKILL (or stops it with SIGSTOP and continues it with SIGCONT 20-300 ms later), at a
// random point or aimed at a window the worker announces (a reservation, a peek, a held lock,
// a create). Then it waits for the rest to go on: time to recover is kill -> next progress;
// a hang is the watchdog (10 s) passing without every live worker and the case as a whole
// making progress. What was lost or duplicated is counted from the ledger (ledger.js).

const { spawn } = require('child_process')
const path = require('path')
const { Ledger, H, S } = require('./ledger')
const helpers = require('../helpers')

const WORKER = path.join(__dirname, 'worker.js')
const WATCHDOG_MS = Number(process.env.SHMEM_STRESS_WATCHDOG_MS) || 10000

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const rand = (lo, hi) => lo + Math.random() * (hi - lo)
const pick = (list) => list[Math.floor(Math.random() * list.length)]

// Every child of every case, so that none survives the engine, whatever happens.
const children = new Set()
function killAll () {
  for (const c of children) {
    try { process.kill(c.pid, 'SIGKILL') } catch {}
    try { process.kill(c.pid, 'SIGCONT') } catch {}
  }
}
process.on('exit', killAll)

function percentile (values, p) {
  if (values.length === 0) return null
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]
}

class Hung extends Error {}

class CaseRun {
  constructor (def, opts) {
    this.def = def
    this.rounds = opts.rounds
    this.maxWorkers = opts.rounds + def.roles.length + 8
    this.bitmapBits = def.bitmapBits || 0
    this.names = []
    this.ledgerName = this.name('ledger')
    this.ledger = Ledger.create(this.ledgerName, this.maxWorkers, this.bitmapBits)
    this.workers = new Map() // id -> worker
    this.nextId = 1
    this.stderr = []
    this.unexpectedExits = 0
    this.stopping = false
    this.kills = 0
    this.stops = 0
    this.recoveries = [] // ms, kill -> next progress
    this.hung = 0
    this.hangs = []
    this.notes = {}
  }

  // A POSIX name for this case, removed when the case ends (and at exit, whatever happens).
  name (tag) {
    const name = helpers.trackPosix(helpers.uniqueName(`stress-${this.def.name}-${tag}`))
    this.names.push(name)
    return name
  }

  note (key, n = 1) { this.notes[key] = (this.notes[key] || 0) + n }

  spawn (role, extra = {}) {
    const id = this.nextId++
    if (id >= this.maxWorkers) throw new Error('out of worker slots')
    this.ledger.set(H.maxId, id)
    const cfg = {
      ledger: this.ledgerName,
      maxWorkers: this.maxWorkers,
      bitmapBits: this.bitmapBits,
      id,
      role,
      ...this.config,
      ...extra
    }
    const child = spawn(process.execPath, [WORKER, JSON.stringify(cfg)],
      { stdio: ['ignore', 'ignore', 'pipe'] })
    children.add(child)
    const w = { id, role, child, pid: child.pid, stopped: false, dead: false, killed: false }
    let err = ''
    child.stderr.on('data', (d) => { if (err.length < 4000) err += d })
    w.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        children.delete(child)
        w.dead = true
        w.code = code
        w.signal = signal
        if (err) this.stderr.push(`worker ${id} (${role}): ${err.trim()}`)
        if (!w.killed && !(this.stopping && code === 0)) this.unexpectedExits++
        resolve()
      })
    })
    this.workers.set(id, w)
    return w
  }

  live () { return [...this.workers.values()].filter((w) => !w.dead && !w.killed) }

  // Waits until cond() holds, polling each ms; a Hung error after the watchdog.
  async until (cond, what, deadline = performance.now() + WATCHDOG_MS) {
    for (;;) {
      if (cond()) return performance.now()
      if (performance.now() > deadline) throw new Hung(what())
      await sleep(1)
    }
  }

  heartbeats () {
    const m = new Map()
    for (const w of this.live()) m.set(w.id, this.ledger.getSlot(w.id, S.heartbeat))
    return m
  }

  // Every live worker that was ready before has beaten since `before`, newcomers are ready.
  allMoved (before) {
    for (const w of this.live()) {
      if (w.stopped) continue
      if (this.ledger.getSlot(w.id, S.ready) !== 1) return false
      const b = before.get(w.id)
      if (b !== undefined && this.ledger.getSlot(w.id, S.heartbeat) === b) return false
    }
    return true
  }

  stuck (before) {
    const out = []
    for (const w of this.live()) {
      if (this.ledger.getSlot(w.id, S.ready) !== 1) out.push(`worker ${w.id} (${w.role}) never got ready`)
      else if (before.get(w.id) === this.ledger.getSlot(w.id, S.heartbeat)) {
        out.push(`worker ${w.id} (${w.role}) made no progress: ${JSON.stringify(this.ledger.snapshot(w.id))}`)
      }
    }
    return out.join('; ') || 'the case as a whole made no progress'
  }

  // Waits (spinning: the windows are short) until the worker announces `stage`, for at most
  // 30 ms; the kill lands wherever the worker is then.
  aim (w, stage) {
    const end = performance.now() + 30
    while (performance.now() < end) {
      if (this.ledger.getSlot(w.id, S.stage) === stage) return true
    }
    return false
  }

  async round () {
    await sleep(rand(20, 100))
    const plan = this.def.choose(this)
    const w = plan.worker
    if (plan.stage !== undefined) this.note(this.aim(w, plan.stage) ? 'aimed kills landed' : 'aimed kills missed')
    const progress0 = this.ledger.get(H.progress)
    if (plan.signal === 'SIGKILL') {
      const t0 = performance.now()
      w.killed = true
      process.kill(w.pid, 'SIGKILL')
      this.kills++
      await w.exited
      const snap = this.ledger.snapshot(w.id)
      const before = this.heartbeats()
      const info = (await this.def.afterKill?.(this, w, snap)) || {}
      this.spawn(w.role)
      const t1 = await this.until(() => this.ledger.get(H.progress) > progress0,
        () => `no progress after killing worker ${w.id} (${w.role}); ${this.stuck(before)}`)
      this.recoveries.push({ ms: t1 - t0, tag: info.tag || w.role })
      await this.until(() => this.allMoved(before), () => this.stuck(before))
    } else {
      w.stopped = true
      process.kill(w.pid, 'SIGSTOP')
      this.stops++
      const holdingAtStop = this.ledger.snapshot(w.id)
      const timedOut0 = this.ledger.get(H.timedOut)
      await sleep(rand(20, 300))
      await this.def.whileStopped?.(this, w, holdingAtStop, timedOut0)
      const before = this.heartbeats()
      const progress1 = this.ledger.get(H.progress)
      process.kill(w.pid, 'SIGCONT')
      w.stopped = false
      await this.until(() => this.ledger.get(H.progress) > progress1 && this.allMoved(before),
        () => `after SIGCONT of worker ${w.id} (${w.role}): ${this.stuck(before)}`)
    }
  }

  async run () {
    const t0 = performance.now()
    let error = null
    try {
      this.config = (await this.def.setup(this)) || {}
      for (const role of this.def.roles) this.spawn(role)
      const none = new Map()
      await this.until(() => this.allMoved(none) && this.ledger.get(H.progress) > 0,
        () => `start: ${this.stuck(none)}`)
      for (let r = 0; r < this.rounds; r++) await this.round()
    } catch (err) {
      if (err instanceof Hung) {
        this.hung++
        this.hangs.push(err.message)
      } else {
        error = err
      }
    }
    // The end: workers finish what they hold and exit; one that does not is hung too.
    this.stopping = true
    this.ledger.set(H.stop, 1)
    for (const w of this.workers.values()) {
      if (w.stopped) {
        try { process.kill(w.pid, 'SIGCONT') } catch {}
        w.stopped = false
      }
    }
    const deadline = performance.now() + WATCHDOG_MS
    for (const w of this.live()) {
      const left = deadline - performance.now()
      const done = await Promise.race([w.exited.then(() => true), sleep(Math.max(0, left)).then(() => false)])
      if (!done) {
        this.hung++
        this.hangs.push(`worker ${w.id} (${w.role}) did not exit after stop: ${JSON.stringify(this.ledger.snapshot(w.id))}`)
        w.killed = true
        try { process.kill(w.pid, 'SIGKILL') } catch {}
        await w.exited
      }
    }
    let summary = {}
    try {
      if (error === null) summary = (await this.def.finish?.(this)) || {}
    } catch (err) {
      error = err
    }
    try { await this.def.teardown?.(this) } catch {}
    const l = this.ledger
    const rec = this.recoveries.map((r) => r.ms)
    const report = {
      case: this.def.name,
      rounds: this.rounds,
      kills: this.kills,
      stops: this.stops,
      messages: l.get(H.progress),
      lost: summary.lost ?? 0,
      duplicated: l.get(H.duplicated),
      hung: this.hung,
      recoverP50: percentile(rec, 0.5),
      recoverMax: rec.length ? Math.max(...rec) : null,
      reordered: l.get(H.reordered),
      corrupt: l.get(H.corrupt),
      phantom: l.get(H.phantom),
      overlap: l.get(H.overlap),
      errors: l.get(H.errors) + this.unexpectedExits,
      wallMs: Math.round(performance.now() - t0),
      ...summary,
      notes: this.notes,
      details: l.details(),
      hangs: this.hangs,
      stderr: this.stderr.slice(0, 5),
      error: error && (error.stack || String(error))
    }
    this.byTag = {}
    for (const r of this.recoveries) (this.byTag[r.tag] ||= []).push(r.ms)
    report.recoverBy = Object.fromEntries(Object.entries(this.byTag).map(([k, v]) =>
      [k, { n: v.length, p50: round(percentile(v, 0.5)), max: round(Math.max(...v)) }]))
    l.close()
    for (const name of this.names) {
      try { require('../..').unlink(name) } catch {}
    }
    return report
  }
}

function round (x) { return x === null ? null : Math.round(x * 10) / 10 }

async function runCase (def, opts) {
  return new CaseRun(def, opts).run()
}

module.exports = { runCase, killAll, children, sleep, rand, pick, percentile, round, Hung }
