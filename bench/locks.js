'use strict'
// What the locks and wait/notify cost: shmem.Mutex against this package's own file lock
// (flock), a counter shared by two processes under each, and a wait/notify ping-pong between
// two processes against C futexes and process.send, side by side in one run.
//
//   node bench/locks.js [--quick] [--json]
//
// Every round runs every contender, in an order that rotates from round to round; the table
// shows medians over rounds and ratios of medians.

const { fork, execFileSync } = require('child_process')
const lib = require('./lib')
const shmem = require('..')

const PLANS = {
  full: { rounds: 5, uncontended: 2000000, flock: 200000, increments: 1000000, flockIncrements: 200000, pings: 20000, slowPings: 3000 },
  quick: { rounds: 2, uncontended: 200000, flock: 20000, increments: 50000, flockIncrements: 10000, pings: 2000, slowPings: 300 }
}
const DELAY_NS = 20000 // the "slow peer" answers after this long
const SPIN_NS = 2000 // what shmem.wait spins before it sleeps (lib/wait.js)

const GOAL_MUTEX_NS = 50
const GOAL_MUTEX_VS_FLOCK = 15
const GOAL_COUNTER_VS_FLOCK = 5
const GOAL_PINGPONG_US = 5
const GOAL_SLOW_VS_RAW = 1.2

// ---------------------------------------------------------------------------------------
// Children.

function busyWait (ns) {
  const until = process.hrtime.bigint() + BigInt(ns)
  while (process.hrtime.bigint() < until) {}
}

async function child (spec) {
  const seg = shmem.open(spec.name)
  const flags = seg.view(Int32Array, 0, 16)
  try {
    if (spec.role === 'counter') {
      const counter = seg.view(Int32Array, 4096, 2)
      const m = spec.kind === 'mutex' ? shmem.Mutex.attach(seg, 128) : null
      Atomics.add(flags, 1, 1) // ready
      while (Atomics.load(flags, 0) === 0) shmem.wait(flags, 0, 0, 1000)
      const t0 = process.hrtime.bigint()
      for (let k = 0; k < spec.increments; k++) {
        if (m !== null) m.lock()
        else seg.lock('exclusive')
        counter[0] = counter[0] + 1 // a plain read and write: only the lock keeps it exact
        if (m !== null) m.unlock()
        else seg.unlock()
      }
      process.send({ ns: Number(process.hrtime.bigint() - t0) })
    } else if (spec.role === 'pong') {
      // Answers 2k+1 with 2k+2 on word 2, after spec.delay ns.
      Atomics.store(flags, 1, 1)
      for (let k = 0; k < spec.pings; k++) {
        const want = 2 * k + 1
        for (let seen = Atomics.load(flags, 2); seen !== want; seen = Atomics.load(flags, 2)) {
          shmem.wait(flags, 2, seen) // one read: waiting on a second read could miss the change
        }
        if (spec.delay > 0) busyWait(spec.delay)
        Atomics.store(flags, 2, want + 1)
        shmem.notify(flags, 2, 1)
      }
      process.send({ done: true })
    }
  } finally {
    seg.close()
  }
}

function pongSend () {
  process.on('message', (m) => {
    if (m === 'end') process.disconnect()
    else process.send(m)
  })
}

// ---------------------------------------------------------------------------------------
// The parent side.

function onceMessage (proc) {
  return new Promise((resolve, reject) => {
    proc.once('message', resolve)
    proc.once('exit', (code) => reject(new Error(`child exited with ${code}`)))
  })
}

function uncontended (kind, plan) {
  const name = lib.uniqueName('u')
  const seg = shmem.create(name, 65536)
  try {
    if (kind === 'atomics') {
      // The floor on this machine: the two read-modify-write instructions any lock needs.
      const i = seg.view(Int32Array, 0, 16)
      const run = (n) => {
        for (let k = 0; k < n; k++) {
          Atomics.compareExchange(i, 3, 0, 1)
          Atomics.compareExchange(i, 3, 1, 0)
        }
      }
      run(plan.uncontended / 10)
      return lib.timePerOp(run, plan.uncontended)
    }
    if (kind === 'mutex') {
      const m = shmem.Mutex.init(seg, 0)
      const run = (n) => { for (let k = 0; k < n; k++) { m.lock(); m.unlock() } }
      run(plan.uncontended / 10)
      return lib.timePerOp(run, plan.uncontended)
    }
    const run = (n) => { for (let k = 0; k < n; k++) { seg.lock('exclusive'); seg.unlock() } }
    run(plan.flock / 10)
    return lib.timePerOp(run, plan.flock)
  } finally {
    seg.close()
    shmem.unlink(name)
  }
}

async function counter (kind, plan) {
  const name = lib.uniqueName('c')
  const seg = shmem.create(name, 65536)
  const increments = kind === 'mutex' ? plan.increments : plan.flockIncrements
  const kids = []
  try {
    if (kind === 'mutex') shmem.Mutex.init(seg, 128)
    const flags = seg.view(Int32Array, 0, 16)
    for (let c = 0; c < 2; c++) {
      kids.push(fork(__filename, ['--child', JSON.stringify({ role: 'counter', kind, name, increments })]))
    }
    while (Atomics.load(flags, 1) < 2) await new Promise((resolve) => setTimeout(resolve, 5))
    const done = kids.map(onceMessage)
    const t0 = process.hrtime.bigint()
    Atomics.store(flags, 0, 1)
    shmem.notify(flags, 0)
    await Promise.all(done)
    const ns = Number(process.hrtime.bigint() - t0)
    const total = seg.view(Int32Array, 4096, 1)[0]
    if (total !== 2 * increments) throw new Error(`${kind}: the total is ${total}, not ${2 * increments}`)
    return ns / (2 * increments) // per increment, both processes together
  } finally {
    for (const k of kids) if (k.exitCode === null) k.kill()
    seg.close()
    shmem.unlink(name)
  }
}

async function pingShmem (pings, delay) {
  const name = lib.uniqueName('p')
  const seg = shmem.create(name, 4096)
  const flags = seg.view(Int32Array, 0, 16)
  const kid = fork(__filename, ['--child', JSON.stringify({ role: 'pong', name, pings, delay })])
  try {
    while (Atomics.load(flags, 1) === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    const warm = Math.floor(pings / 10)
    let t0 = 0n
    for (let k = 0; k < pings; k++) {
      if (k === warm) t0 = process.hrtime.bigint()
      const want = 2 * k + 2
      Atomics.store(flags, 2, want - 1)
      shmem.notify(flags, 2, 1)
      while (Atomics.load(flags, 2) !== want) shmem.wait(flags, 2, want - 1)
    }
    const ns = Number(process.hrtime.bigint() - t0) / (pings - warm)
    await onceMessage(kid)
    return ns
  } finally {
    if (kid.exitCode === null) kid.kill()
    seg.close()
    shmem.unlink(name)
  }
}

async function pingSend (pings) {
  const kid = fork(__filename, ['--pong-send'], { serialization: 'json' })
  try {
    const msg = { k: 0 }
    await new Promise((resolve) => { kid.once('message', resolve); kid.send(msg) })
    const warm = Math.floor(pings / 10)
    let t0 = 0n
    for (let k = 0; k < pings; k++) {
      if (k === warm) t0 = process.hrtime.bigint()
      msg.k = k
      await new Promise((resolve) => { kid.once('message', resolve); kid.send(msg) })
    }
    return Number(process.hrtime.bigint() - t0) / (pings - warm)
  } finally {
    kid.send('end')
    if (kid.exitCode === null) kid.kill()
  }
}

function pingC (exe, pings, spin, delay) {
  return Number(execFileSync(exe, [String(pings), String(spin), String(delay)]).toString().trim())
}

async function main () {
  const { json, quick } = lib.parseArgs()
  const plan = quick ? PLANS.quick : PLANS.full
  let exe = null
  try {
    exe = lib.compileC('futex_pingpong.c')
  } catch (err) {
    console.error(err.message)
  }
  const contenders = {
    mutexUncontended: () => uncontended('mutex', plan),
    atomicsFloor: () => uncontended('atomics', plan),
    flockUncontended: () => uncontended('flock', plan),
    mutexCounter: () => counter('mutex', plan),
    flockCounter: () => counter('flock', plan),
    pingShmem: () => pingShmem(plan.pings, 0),
    pingRawFutex: () => exe ? pingC(exe, plan.pings, 0, 0) : NaN,
    pingRawSpin: () => exe ? pingC(exe, plan.pings * 5, SPIN_NS, 0) : NaN,
    pingSend: () => pingSend(Math.min(plan.pings, 5000)),
    slowShmem: () => pingShmem(plan.slowPings, DELAY_NS),
    slowRawFutex: () => exe ? pingC(exe, plan.slowPings, 0, DELAY_NS) : NaN
  }
  const keys = Object.keys(contenders)
  const samples = Object.fromEntries(keys.map((k) => [k, []]))
  for (let round = 0; round < plan.rounds; round++) {
    const order = keys.map((_, i) => keys[(i + round) % keys.length])
    for (const key of order) {
      lib.collectGarbage()
      samples[key].push(await contenders[key]())
    }
  }
  const med = Object.fromEntries(keys.map((k) => [k, lib.median(samples[k])]))
  const verdict = (ok) => ok ? 'PASS' : 'FAIL'
  const goals = []
  const row = (c, who, ns, ratio, goal, ok) => {
    if (goal) goals.push(ok)
    return [c, who, lib.formatNs(ns), ratio, goal || '', goal ? verdict(ok) : '']
  }
  const r = (a, b) => lib.formatRatio(a / b)
  const rows = [
    row('uncontended lock+unlock', 'shmem.Mutex', med.mutexUncontended, 'baseline',
      `<= ${GOAL_MUTEX_NS} ns`, med.mutexUncontended <= GOAL_MUTEX_NS),
    row('', 'segment.lock (flock)', med.flockUncontended, r(med.flockUncontended, med.mutexUncontended),
      `>= ${GOAL_MUTEX_VS_FLOCK}x the Mutex`, med.flockUncontended / med.mutexUncontended >= GOAL_MUTEX_VS_FLOCK),
    row('', '2 Atomics CAS (floor)', med.atomicsFloor, r(med.atomicsFloor, med.mutexUncontended)),
    null,
    row('2 processes x increments', 'shmem.Mutex', med.mutexCounter, 'baseline'),
    row('(per increment)', 'segment.lock (flock)', med.flockCounter, r(med.flockCounter, med.mutexCounter),
      `>= ${GOAL_COUNTER_VS_FLOCK}x the Mutex`, med.flockCounter / med.mutexCounter >= GOAL_COUNTER_VS_FLOCK),
    null,
    row('ping-pong round trip', 'shmem.wait/notify', med.pingShmem, 'baseline',
      `<= ${GOAL_PINGPONG_US} us`, med.pingShmem <= GOAL_PINGPONG_US * 1000),
    row('', 'C spin-then-futex', med.pingRawSpin, r(med.pingRawSpin, med.pingShmem)),
    row('', 'C futex, no spin', med.pingRawFutex, r(med.pingRawFutex, med.pingShmem)),
    row('', 'process.send (json)', med.pingSend, r(med.pingSend, med.pingShmem)),
    null,
    row(`slow peer (+${DELAY_NS / 1000} us)`, 'C futex, no spin', med.slowRawFutex, 'baseline'),
    row('', 'shmem.wait/notify', med.slowShmem, r(med.slowShmem, med.slowRawFutex),
      `<= ${GOAL_SLOW_VS_RAW}x raw futex`, med.slowShmem / med.slowRawFutex <= GOAL_SLOW_VS_RAW)
  ]
  if (json) {
    console.log(JSON.stringify({ machine: lib.machine(), plan, medians: med, samples }))
  } else {
    console.log('bench/locks.js: locks and wait/notify across processes')
    console.log(lib.formatMachine())
    console.log(`medians of ${plan.rounds} rounds, contenders in rotating order\n`)
    console.log(lib.formatTable([
      { title: 'case' }, { title: 'contender' }, { title: 'median', align: 'right' },
      { title: 'ratio', align: 'right' }, { title: 'goal' }, { title: 'verdict' }
    ], rows))
    console.log('\nnotes:')
    console.log(`- counter rows: ${plan.increments} (Mutex) and ${plan.flockIncrements} (flock) ` +
      'increments in each of 2 processes at once; the time per increment of both together; ' +
      'the totals were checked exact.')
    console.log(`- shmem.wait spins ${SPIN_NS / 1000} us before it sleeps; the C spin row does the same.`)
    console.log(`- slow peer: the answering side busy-waits ${DELAY_NS / 1000} us before it ` +
      'answers, so the asking side is asleep in the kernel when the answer comes.')
    console.log(`- goals: ${goals.filter(Boolean).length} of ${goals.length} met`)
  }
  const left = lib.sweepShm()
  if (left.length > 0) console.error(`bench/locks.js: removed leftovers ${left.join(', ')}`)
}

if (process.argv[2] === '--child') {
  child(JSON.parse(process.argv[3])).then(() => process.disconnect && process.disconnect(),
    (err) => { console.error(err); process.exit(1) })
} else if (process.argv[2] === '--pong-send') {
  pongSend()
} else {
  main().catch((err) => { console.error(err); lib.sweepShm(); process.exit(1) })
}
