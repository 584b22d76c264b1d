'use strict'
// Creators killed (SIGKILL) or stopped (SIGSTOP) while they run Channel.create() or
// shmem.create() with autoUnlink, and close (which removes the name) in a loop.
//
// What is promised (README "Channels" and "Lifecycle", docs/lifecycle.md): Channel.open() of
// a channel whose creator is still under way, or died under way, succeeds or gives a coded
// error (ENOENT, or ERR_SHMEM_BAD_STATE after waiting up to 100 ms), never hangs; shmem.gc()
// removes what a killed creator with autoUnlink left, except a segment whose creator died
// between shm_open and writing its record (a documented window of microseconds). So: a probe
// that opens the name must answer within the watchdog with a success or a coded error
// (badOpen: 0, hung: 0); "lost" counts the names still there after gc (reported, explained by
// that window), which the case then removes.

const fs = require('fs')
const path = require('path')
const { spawn } = require('child_process')
const readline = require('readline')
const shmem = require('../../..')
const helpers = require('../../helpers')
const { S, STAGE } = require('../ledger')
const { pick, children, Hung } = require('../engine')

const WATCHDOG_MS = Number(process.env.SHMEM_STRESS_WATCHDOG_MS) || 10000
const CODED = new Set(['opened', 'ENOENT', 'ERR_SHMEM_BAD_STATE', 'ERR_OUT_OF_RANGE'])
const IN_PROGRESS = new Set([STAGE.creating, STAGE.created, STAGE.closing])

function startProbe () {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'probe.js')],
    { stdio: ['pipe', 'pipe', 'inherit'] })
  children.add(child)
  child.on('exit', () => children.delete(child))
  const pending = new Map()
  let seq = 0
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const reply = JSON.parse(line)
    pending.get(reply.seq)?.(reply)
    pending.delete(reply.seq)
  })
  return {
    child,
    ask (req) {
      const n = ++seq
      let timer
      return Promise.race([
        new Promise((resolve) => {
          pending.set(n, resolve)
          child.stdin.write(JSON.stringify({ ...req, seq: n }) + '\n')
        }),
        new Promise((resolve, reject) => {
          timer = setTimeout(() => reject(new Hung(`probe ${req.op} ${req.name || ''} did not answer in ${WATCHDOG_MS} ms`)), WATCHDOG_MS)
        })
      ]).finally(() => clearTimeout(timer))
    }
  }
}

function leftovers (prefix) {
  const base = prefix.slice(1) + '-'
  return fs.readdirSync('/dev/shm').filter((f) => f.startsWith(base)).map((f) => '/' + f)
}

async function probeOpen (run, w, snap, when) {
  if (!IN_PROGRESS.has(snap.stage)) return null
  const name = `${run.config.prefix}-${w.id}-${snap.item}`
  const kind = snap.itemKind
  const reply = await run.probe.ask({ op: 'open', name, kind })
  run.note(`${when}: ${kind === 1 ? 'Channel.open' : 'shmem.open'} -> ${reply.result}`)
  if (!CODED.has(reply.result)) {
    run.badOpen++
    run.badOpens.push(`${name}: ${reply.result}`)
  }
  run.openMs.push(reply.ms)
  return name
}

module.exports = [{
  name: 'create',
  roles: ['creator', 'creator'],
  setup (run) {
    run.probe = startProbe()
    run.badOpen = 0
    run.badOpens = []
    run.openMs = []
    run.leaked = 0
    return { prefix: helpers.uniqueName('stress-create') }
  },
  choose (run) {
    const worker = pick(run.live())
    const signal = Math.random() < 0.75 ? 'SIGKILL' : 'SIGSTOP'
    return { worker, signal, stage: Math.random() < 0.5 ? STAGE.creating : undefined }
  },
  async afterKill (run, w, snap) {
    const name = await probeOpen(run, w, snap, 'after kill')
    if (name === null) return { tag: 'idle' }
    await run.probe.ask({ op: 'gc' })
    const { exists } = await run.probe.ask({ op: 'exists', name })
    if (exists) {
      run.leaked++
      shmem.unlink(name)
    }
    return { tag: 'creator' }
  },
  async whileStopped (run, w, snap) {
    await probeOpen(run, w, snap, 'while stopped')
  },
  finish (run) {
    const left = leftovers(run.config.prefix)
    for (const name of left) shmem.unlink(name)
    const ms = [...run.openMs].sort((a, b) => a - b)
    return {
      lost: run.leaked,
      leftAfterGc: run.leaked,
      leftAtEnd: left.length,
      badOpen: run.badOpen,
      badOpens: run.badOpens.slice(0, 5),
      probes: ms.length,
      openP50: ms.length ? ms[Math.floor(ms.length / 2)] : null,
      openMax: ms.length ? ms[ms.length - 1] : null
    }
  },
  teardown (run) {
    run.probe.child.kill('SIGKILL')
    for (const name of leftovers(run.config.prefix)) {
      try { shmem.unlink(name) } catch {}
    }
  }
}]
