'use strict'
// SharedMap against lmdb-js (a memory-mapped B-tree shared between processes, its database on
// /dev/shm) and Redis (GET through ioredis, pipelining off, on a local redis-server this
// benchmark starts on a free port): get of a hit and set, 16-byte keys and 100-byte values;
// then one writer and three reader processes at once, every value carrying its own checksum
// (a torn read would show), against one reader; and the segment's bytes per entry against the
// raw key and value bytes. Contenders alternate within each round; the table shows the
// median over rounds and the ratios of those medians, and checks the goals.
//
//   node bench/map.js [--quick] [--json]
//
// lmdb is a peer (`npm run peers`), ioredis a devDependency, redis-server a system package
// (Debian: redis-server); the rows of one that is missing are skipped, saying why.

const { spawn } = require('child_process')
const fs = require('fs')
const net = require('net')
const path = require('path')
const lib = require('./lib')
const { SharedMap, unlink } = require('..')
const { requirePeer, peerMissing } = require('../scripts/peers')

const KEY_BYTES = 16
const VALUE_BYTES = 100
const KEYS = 1024
const PLANS = {
  full: { rounds: 7, iterations: 300000, redisOps: 4000, concurrentMs: 1500, warm: 20000 },
  quick: { rounds: 3, iterations: 50000, redisOps: 1000, concurrentMs: 400, warm: 5000 }
}

// The goals from the issue.
const GOAL_GET_NS = 300
const GOAL_GET_VS_LMDB = 2
const GOAL_GET_VS_REDIS = 50
const GOAL_SET_NS = 1000
const GOAL_SET_VS_LMDB = 2

const keyOf = (i) => `k${String(i).padStart(KEY_BYTES - 1, '0')}`
const valueOf = (i, salt = 0) => `v${i}.${salt}.`.padEnd(VALUE_BYTES, 'x')
const KEY_LIST = Array.from({ length: KEYS }, (_, i) => keyOf(i))
const VALUES = Array.from({ length: KEYS }, (_, i) => valueOf(i))
let sink = 0

// ---------------------------------------------------------------------------------------
// The concurrent readers and writer: child processes of this file.

// FNV-1a of a string's char codes: the checksum each value carries after its last '|'.
function checksum (text) {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return (h >>> 0).toString(16).padStart(8, '0')
}

function checkedValue (i, salt) {
  const payload = `${i}.${salt}.`.padEnd(VALUE_BYTES - 9, String.fromCharCode(97 + salt % 26))
  return `${payload}|${checksum(payload)}`
}

// Opens the map, says 'ready', waits for the parent's go (one byte on stdin), then works for
// ms milliseconds and prints what it did.
function childMain (role, name, ms) {
  const map = SharedMap.open(name)
  const keys = KEY_LIST.slice(0, 64)
  process.stdout.write('ready\n')
  fs.readSync(0, Buffer.alloc(1))
  const start = Date.now()
  const until = start + Number(ms)
  let ops = 0
  let torn = 0
  if (role === 'writer') {
    for (let salt = 0; Date.now() < until; salt++) {
      for (let i = 0; i < 256; i++, ops++) {
        const k = (ops * 7) & 63
        map.set(keys[k], checkedValue(k, salt + i))
      }
    }
  } else {
    while (Date.now() < until) {
      for (let i = 0; i < 1024; i++, ops++) {
        const v = map.get(keys[(ops * 13) & 63])
        if (v === undefined) continue
        const bar = v.lastIndexOf('|')
        if (bar < 0 || checksum(v.slice(0, bar)) !== v.slice(bar + 1)) torn++
      }
    }
  }
  map.close()
  process.stdout.write(JSON.stringify({ role, ops, torn, ms: Date.now() - start }))
}

// Starts a child; resolves with { ready, done }: ready once it has the map open, done with
// what it printed at the end.
function startChild (role, name, ms) {
  const child = spawn(process.execPath, [__filename, '--child', role, name, String(ms)],
    { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  let onReady
  const ready = new Promise((resolve) => { onReady = resolve })
  child.stdout.on('data', (d) => {
    out += d
    if (out.startsWith('ready\n')) onReady()
  })
  const done = new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`bench: the ${role} exited with ${code}`))
      else resolve(JSON.parse(out.slice('ready\n'.length)))
    })
  })
  return { child, ready, done }
}

// Readers' total reads per second with one writer, and the torn reads they saw.
async function concurrent (name, readers, ms) {
  const children = [startChild('writer', name, ms),
    ...Array.from({ length: readers }, () => startChild('reader', name, ms))]
  await Promise.all(children.map((c) => c.ready))
  for (const c of children) c.child.stdin.end('g') // every one mapped before any clock runs
  const rs = (await Promise.all(children.map((c) => c.done))).filter((r) => r.role === 'reader')
  return {
    perSecond: rs.reduce((a, r) => a + r.ops / (r.ms / 1000), 0),
    torn: rs.reduce((a, r) => a + r.torn, 0)
  }
}

// ---------------------------------------------------------------------------------------
// Redis: a redis-server of our own on a free port, and ioredis.

function freePort () {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    }).on('error', reject)
  })
}

async function startRedis () {
  let Redis
  try {
    Redis = require('ioredis')
  } catch {
    return { skip: 'ioredis is not installed (a devDependency)' }
  }
  const port = await freePort()
  const server = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port),
    '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] })
  const ready = await new Promise((resolve) => {
    let out = ''
    server.on('error', () => resolve(false))
    server.on('exit', () => resolve(false))
    server.stdout.on('data', (d) => {
      out += d
      if (out.includes('Ready to accept connections')) resolve(true)
    })
  })
  if (!ready) {
    return { skip: 'redis-server is not installed or did not start (Debian: redis-server)' }
  }
  server.stdout.resume()
  const client = new Redis({ host: '127.0.0.1', port, enableAutoPipelining: false })
  for (let i = 0; i < KEYS; i++) await client.set(KEY_LIST[i], VALUES[i])
  return {
    client,
    stop: async () => {
      client.disconnect()
      const exited = new Promise((resolve) => server.on('exit', resolve))
      server.kill('SIGTERM')
      await exited
    }
  }
}

async function redisGet (client, ops) {
  for (let i = 0; i < 200; i++) await client.get(KEY_LIST[i % KEYS])
  const start = lib.now()
  for (let i = 0; i < ops; i++) sink += (await client.get(KEY_LIST[i % KEYS])).length
  return Number(lib.now() - start) / ops
}

// ---------------------------------------------------------------------------------------

function contenders (plan, map, bytesMap, lmdb) {
  const n = plan.iterations
  const target = Buffer.alloc(VALUE_BYTES)
  const timed = (fn) => () => {
    fn(plan.warm)
    return lib.timePerOp(fn, n)
  }
  const list = [
    ['get hit (string)', 'shmem SharedMap', timed((k) => {
      let s = 0
      for (let i = 0; i < k; i++) s += map.get(KEY_LIST[i & (KEYS - 1)]).length
      sink += s
    })],
    ['get hit (bytes, no allocation)', 'shmem getInto', timed((k) => {
      let s = 0
      for (let i = 0; i < k; i++) s += bytesMap.getInto(KEY_LIST[i & (KEYS - 1)], target)
      sink += s
    })],
    ['set', 'shmem SharedMap', timed((k) => {
      for (let i = 0; i < k; i++) map.set(KEY_LIST[i & (KEYS - 1)], VALUES[(i + 1) & (KEYS - 1)])
    })]
  ]
  if (lmdb !== null) {
    list.push(
      ['get hit (string)', 'lmdb-js get', timed((k) => {
        let s = 0
        for (let i = 0; i < k; i++) s += lmdb.strings.get(KEY_LIST[i & (KEYS - 1)]).length
        sink += s
      })],
      ['get hit (bytes, no allocation)', 'lmdb-js getBinaryFast', timed((k) => {
        let s = 0
        for (let i = 0; i < k; i++) s += lmdb.bytes.getBinaryFast(KEY_LIST[i & (KEYS - 1)]).length
        sink += s
      })],
      ['set', 'lmdb-js putSync', timed((k) => {
        for (let i = 0; i < k; i++) {
          lmdb.strings.putSync(KEY_LIST[i & (KEYS - 1)], VALUES[(i + 1) & (KEYS - 1)])
        }
      })]
    )
  }
  return list
}

function openLmdb () {
  const why = peerMissing('lmdb')
  if (why !== null) return { skip: why }
  const { open } = requirePeer('lmdb')
  const dir = path.join('/dev/shm', `${lib.NAME_PREFIX}lmdb`)
  // noSync: a cache needs no durability, and on /dev/shm there is no disk to wait for.
  const options = { compression: false, noSync: true }
  const strings = open({ path: `${dir}-s`, encoding: 'string', ...options })
  const bytes = open({ path: `${dir}-b`, encoding: 'binary', ...options })
  for (let i = 0; i < KEYS; i++) {
    strings.putSync(KEY_LIST[i], VALUES[i])
    bytes.putSync(KEY_LIST[i], Buffer.from(VALUES[i]))
  }
  return {
    strings,
    bytes,
    close: () => {
      strings.close()
      bytes.close()
      for (const p of [`${dir}-s`, `${dir}-b`, `${dir}-s-lock`, `${dir}-b-lock`]) {
        fs.rmSync(p, { recursive: true, force: true })
      }
    }
  }
}

async function main () {
  const args = lib.parseArgs()
  const plan = args.quick ? PLANS.quick : PLANS.full
  const options = { capacity: 4 * KEYS, maxKeyBytes: KEY_BYTES, maxValueBytes: VALUE_BYTES }
  const names = [lib.uniqueName('map'), lib.uniqueName('map'), lib.uniqueName('map')]
  const map = SharedMap.create(names[0], { ...options, encoding: 'utf8' })
  const bytesMap = SharedMap.create(names[1], { ...options, encoding: 'buffer' })
  for (let i = 0; i < KEYS; i++) {
    map.set(KEY_LIST[i], VALUES[i])
    bytesMap.set(KEY_LIST[i], VALUES[i])
  }
  const notes = []
  const lmdbOpened = openLmdb()
  const lmdb = lmdbOpened.skip ? null : lmdbOpened
  if (lmdbOpened.skip) notes.push(`lmdb-js skipped: ${lmdbOpened.skip}`)
  const redis = await startRedis()
  if (redis.skip) notes.push(`redis skipped: ${redis.skip}`)

  const list = contenders(plan, map, bytesMap, lmdb)
  if (!redis.skip) {
    list.push(['get hit (string)', 'redis GET (ioredis)', () => redisGet(redis.client,
      plan.redisOps)])
  }
  const cname = names[2]
  const cmap = SharedMap.create(cname, { capacity: 128, maxKeyBytes: KEY_BYTES,
    maxValueBytes: VALUE_BYTES, encoding: 'utf8' })
  for (let i = 0; i < 64; i++) cmap.set(KEY_LIST[i], checkedValue(i, 0))
  const one = []
  const three = []
  let torn = 0

  const samples = list.map(() => [])
  for (let round = 0; round < plan.rounds; round++) {
    for (let k = 0; k < list.length; k++) {
      const i = (k + round) % list.length
      lib.collectGarbage()
      samples[i].push(await list[i][2]())
    }
    const a = await concurrent(cname, 1, plan.concurrentMs)
    const b = await concurrent(cname, 3, plan.concurrentMs)
    one.push(a.perSecond)
    three.push(b.perSecond)
    torn += a.torn + b.torn
    if (!args.json) process.stderr.write(`round ${round + 1} of ${plan.rounds}\n`)
  }
  cmap.close()
  map.close()
  bytesMap.close()
  for (const name of names) unlink(name)
  if (lmdb) lmdb.close()
  if (!redis.skip) await redis.stop()

  const med = list.map((_, i) => lib.median(samples[i]))
  const find = (scenario, contender) =>
    med[list.findIndex((c) => c[0] === scenario && c[1] === contender)]
  const goals = lib.goals()
  const verdict = goals.verdict
  const rows = list.map(([scenario, contender], i) => {
    const m = med[i]
    const ours = find(scenario, scenario.startsWith('get hit (bytes') ? 'shmem getInto'
      : 'shmem SharedMap')
    const ratio = contender.startsWith('shmem') ? '' : lib.formatRatio(m / ours)
    let goal = ''
    let v = ''
    if (scenario === 'get hit (string)' && contender === 'shmem SharedMap') {
      const l = find(scenario, 'lmdb-js get')
      const r = find(scenario, 'redis GET (ioredis)')
      goal = `<= ${GOAL_GET_NS} ns, >= ${GOAL_GET_VS_LMDB}x lmdb-js, >= ${GOAL_GET_VS_REDIS}x redis`
      v = verdict(m <= GOAL_GET_NS && l / m >= GOAL_GET_VS_LMDB && r / m >= GOAL_GET_VS_REDIS,
        l, r)
    } else if (scenario === 'set' && contender === 'shmem SharedMap') {
      const l = find(scenario, 'lmdb-js putSync')
      goal = `<= ${GOAL_SET_NS} ns, >= ${GOAL_SET_VS_LMDB}x lmdb-js putSync`
      v = verdict(m <= GOAL_SET_NS && l / m >= GOAL_SET_VS_LMDB, l)
    }
    return [scenario, contender, lib.formatNs(m), ratio, goal, v]
  })
  const oneMed = lib.median(one)
  const threeMed = lib.median(three)
  rows.push(null,
    ['1 writer + 1 reader', 'shmem SharedMap', `${(oneMed / 1e6).toFixed(2)} M reads/s`, '',
      '', ''],
    ['1 writer + 3 readers', 'shmem SharedMap', `${(threeMed / 1e6).toFixed(2)} M reads/s`,
      lib.formatRatio(threeMed / oneMed), 'no torn read', verdict(torn === 0)])
  const perEntry = SharedMap.byteLength({ ...options, capacity: 100000 }) / 100000
  const raw = KEY_BYTES + VALUE_BYTES
  const memory = `segment bytes per entry (capacity 100000, maxKeyBytes ${KEY_BYTES}, ` +
    `maxValueBytes ${VALUE_BYTES}): ${perEntry.toFixed(1)} for ${raw} raw key + value ` +
    `bytes (${lib.formatRatio(perEntry / raw)})`

  const left = lib.sweepShm()
  if (args.json) {
    process.stdout.write(JSON.stringify({
      machine: lib.machine(),
      plan,
      results: list.map(([scenario, contender], i) =>
        ({ scenario, contender, medianNs: med[i], samples: samples[i] })),
      concurrent: { oneReader: one, threeReaders: three, torn },
      memory: { bytesPerEntry: perEntry, rawBytes: raw },
      notes,
      goals: { met: goals.met(), of: goals.of() },
      leftInShm: left
    }, null, 2) + '\n')
  } else {
    console.log(lib.formatGoalTable('vs shmem', rows))
    console.log()
    console.log(`- ${memory}`)
    console.log(`- torn reads seen by the readers: ${torn}`)
    for (const n of notes) console.log(`- ${n}`)
    console.log(lib.goalsLine(goals, plan.rounds))
    console.log(lib.formatMachine())
  }
  lib.failIfLeft(left)
  if (sink === 0.5) console.log('') // keeps the loops' results alive
}

lib.start(main, childMain)
