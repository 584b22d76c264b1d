'use strict'
// Lifecycle: autoUnlink removes the names a process created when it closes them or ends
// (signals, process.exit(), uncaught exceptions, normal exit), an opener never removes, and
// gc() removes the segments of dead creators and nothing else. Creators run in child
// processes (test/fixtures/lifecycle-child.js); each test gives them a registry directory of
// its own (SHMEM_REGISTRY), so that gc() runs of other test runs on this machine never see
// these records and these never see theirs.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn, execFileSync } = require('child_process')
const fs = require('fs')
const path = require('path')
const os = require('os')
const { shmem, uniqueName, trackPosix, trackSysv, tempDir, cleanup, fixture } =
  require('./helpers')
const lifecycle = require('../lib/lifecycle')

after(cleanup)

// This process's own records go to a directory of its own too.
process.env.SHMEM_REGISTRY = tempDir()

const CHILD = fixture('lifecycle-child.js')

function posixExists (name) {
  return fs.existsSync('/dev/shm' + name)
}

function sysvExists (id) {
  return lifecycle.readSysvTable().some((row) => row.id === id)
}

// Starts the fixture. `info` resolves with its first stdout line, parsed; `done` with
// { code, signal, stdout, stderr } when it has ended.
function start (how, args = [], { registry = tempDir(), env = {} } = {}) {
  const tag = uniqueName('life')
  // Removed at the end whatever happens (the child may fail before it reports).
  for (const suffix of ['-a', '-b', '-plain']) trackPosix(tag + suffix)
  const child = spawn(process.execPath, [CHILD, how, tag, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SHMEM_REGISTRY: registry, ...env }
  })
  let stdout = ''
  let stderr = ''
  let resolveInfo, rejectInfo
  const info = new Promise((resolve, reject) => { resolveInfo = resolve; rejectInfo = reject })
  child.stdout.on('data', (d) => {
    stdout += d
    const nl = stdout.indexOf('\n')
    if (nl >= 0) {
      try {
        const parsed = JSON.parse(stdout.slice(0, nl))
        for (const s of [...(parsed.sysv || []), ...(parsed.plainSysv || [])]) trackSysv(s.key)
        resolveInfo(parsed)
      } catch (err) {
        rejectInfo(err)
      }
    }
  })
  child.stderr.on('data', (d) => { stderr += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), 20000)
  const done = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      rejectInfo(new Error(`the child ended before it reported: ${code} ${signal}\n${stderr}`))
      resolve({ code, signal, stdout, stderr })
    })
  })
  return { child, tag, registry, info, done }
}

function assertAllGone (info, registry) {
  for (const name of info.posix) assert.equal(posixExists(name), false, `${name} remains`)
  for (const s of info.sysv) assert.equal(sysvExists(s.id), false, `System V id ${s.id} remains`)
  assert.deepEqual(fs.readdirSync(registry), [], 'creator records remain')
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  test(`${signal}: the names go, and the process still ends by the signal`, async () => {
    const c = start('wait')
    const info = await c.info
    for (const name of info.posix) assert.ok(posixExists(name))
    assert.equal(fs.readdirSync(c.registry).length, 3, 'one record per owned segment')
    c.child.kill(signal)
    const r = await c.done
    assert.equal(r.signal, signal, r.stderr)
    assert.equal(r.code, null)
    assertAllGone(info, c.registry)
    // Only owned segments went: the ones made without autoUnlink are still there.
    assert.ok(posixExists(info.plain[0]))
    assert.ok(sysvExists(info.plainSysv[0].id))
  })
}

test('two copies of the package in one process: a signal removes the names of both', async () => {
  const c = start('two-copies')
  const info = await c.info
  assert.equal(info.listeners, 2, 'each copy listens for SIGTERM')
  c.child.kill('SIGTERM')
  const r = await c.done
  assert.equal(r.signal, 'SIGTERM', r.stderr)
  assertAllGone(info, c.registry)
})

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  test(`a shell sees 128 + n after the package re-raised ${signal}`, () => {
    const tag = uniqueName('life')
    for (const suffix of ['-a', '-b']) trackPosix(tag + suffix)
    const registry = tempDir()
    const out = execFileSync('/bin/sh', ['-c', '"$0" "$1" raise "$2" "$3"; echo "status $?"',
      process.execPath, CHILD, tag, signal], { env: { ...process.env, SHMEM_REGISTRY: registry } })
    const lines = out.toString().trim().split('\n')
    const info = JSON.parse(lines[0])
    for (const s of info.sysv) trackSysv(s.key)
    assert.equal(lines[1], `status ${128 + os.constants.signals[signal]}`)
    assertAllGone(info, registry)
  })
}

for (const [how, code, stderrHas] of [
  ['exit3', 3, null],
  ['throw', 1, 'boom (expected by the test)'],
  ['reject', 1, 'rejected (expected by the test)'],
  ['normal', 0, null]
]) {
  test(`${how}: exit code ${code} and no segment remains`, async () => {
    const c = start(how)
    const info = await c.info
    const r = await c.done
    assert.equal(r.signal, null, r.stderr)
    assert.equal(r.code, code, r.stderr)
    if (stderrHas) assert.ok(r.stderr.includes(stderrHas), r.stderr)
    else assert.equal(r.stderr, '')
    assertAllGone(info, c.registry)
  })
}

test('a program with its own SIGTERM listener keeps control of its exit', async () => {
  const c = start('own-sigterm')
  const info = await c.info
  c.child.kill('SIGTERM')
  const r = await c.done
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.code, 7, r.stderr)
  // The package stayed out of the way while the listener ran...
  assert.ok(r.stdout.includes('listener ran; names still there'), r.stdout)
  // ...and removed the names when the program chose to exit.
  assertAllGone(info, c.registry)
})

test('a process that only opened segments leaves them in place', async () => {
  const name = trackPosix(uniqueName('life'))
  const seg = shmem.create(name, 4096)
  const sv = shmem.sysv.create(null, 4096)
  trackSysv(sv.key)
  try {
    const c = start('open', [name, String(sv.key)])
    await c.info
    c.child.kill('SIGTERM')
    const r = await c.done
    assert.equal(r.signal, 'SIGTERM', r.stderr)
    assert.ok(posixExists(name))
    assert.ok(sysvExists(sv.id))
    assert.deepEqual(fs.readdirSync(c.registry), [])
  } finally {
    seg.close()
    sv.close()
  }
})

test('kill -9 leaves the segments; gc removes them and nothing else', async () => {
  const registry = tempDir()
  const dead = start('wait', [], { registry })
  const live = start('wait', [], { registry })
  const deadInfo = await dead.info
  const liveInfo = await live.info
  try {
    dead.child.kill('SIGKILL')
    const r = await dead.done
    assert.equal(r.signal, 'SIGKILL')
    for (const name of deadInfo.posix) assert.ok(posixExists(name))
    for (const s of deadInfo.sysv) assert.ok(sysvExists(s.id))

    process.env.SHMEM_REGISTRY = registry
    const planned = shmem.gc({ dryRun: true })
    const byName = (list) => list.map((e) => e.name ?? `sysv:${e.id}`).sort()
    const expected = [...deadInfo.posix, ...deadInfo.sysv.map((s) => `sysv:${s.id}`)].sort()
    assert.deepEqual(byName(planned), expected)
    for (const e of planned) {
      assert.equal(e.removed, false)
      assert.equal(e.error, null)
      assert.equal(e.autoUnlink, true)
      assert.equal(e.creator.pid, dead.child.pid)
      assert.equal(e.creator.alive, false)
    }
    for (const name of deadInfo.posix) assert.ok(posixExists(name), 'a dry run removed nothing')

    const removed = shmem.gc()
    assert.deepEqual(byName(removed), expected)
    for (const e of removed) assert.equal(e.removed, true)
    for (const name of deadInfo.posix) assert.equal(posixExists(name), false)
    for (const s of deadInfo.sysv) assert.equal(sysvExists(s.id), false)
    // The live creator's segments and the ones without autoUnlink stay.
    for (const name of [...liveInfo.posix, ...deadInfo.plain, ...liveInfo.plain]) {
      assert.ok(posixExists(name), name)
    }
    for (const s of [...liveInfo.sysv, ...deadInfo.plainSysv, ...liveInfo.plainSysv]) {
      assert.ok(sysvExists(s.id))
    }
    assert.deepEqual(shmem.gc(), [], 'a second gc finds nothing')
    assert.equal(fs.readdirSync(registry).length, 3, 'only the live creator\'s records are left')
  } finally {
    process.env.SHMEM_REGISTRY = tempDir()
    live.child.kill('SIGTERM')
    await live.done
  }
  assert.deepEqual(fs.readdirSync(registry), [])
})

test('a name removed by someone else and made again is not the recorded one', async () => {
  const registry = tempDir()
  const c = start('wait', [], { registry })
  const info = await c.info
  const name = info.posix[0]
  // Someone else removes the name and creates it again (without autoUnlink).
  shmem.unlink(name)
  const other = shmem.create(name, 4096)
  try {
    c.child.kill('SIGKILL')
    await c.done
    process.env.SHMEM_REGISTRY = registry
    const planned = shmem.gc({ dryRun: true })
    assert.equal(planned.some((e) => e.name === name), false)
    shmem.gc()
    assert.ok(posixExists(name), 'gc removed a newer object of the same name')
    assert.equal(fs.readdirSync(registry).length, 0, 'the stale record is gone')
  } finally {
    process.env.SHMEM_REGISTRY = tempDir()
    other.close()
  }
})

test('close() removes an owned name, and only while it is still the owned object', () => {
  const name = trackPosix(uniqueName('life'))
  const seg = shmem.create(name, 4096, { autoUnlink: true })
  assert.equal(lifecycle.isOwned(seg), true)
  assert.equal(fs.readdirSync(process.env.SHMEM_REGISTRY).length, 1)
  seg.close()
  assert.equal(posixExists(name), false)
  assert.equal(fs.readdirSync(process.env.SHMEM_REGISTRY).length, 0)
  seg.close() // idempotent

  const sv = shmem.sysv.create(null, 4096, { autoUnlink: true })
  trackSysv(sv.key)
  sv.close()
  assert.equal(sysvExists(sv.id), false)

  // Removed by someone else, then made again: closing the first must leave the second.
  const first = shmem.create(name, 4096, { autoUnlink: true })
  shmem.unlink(name)
  const second = shmem.create(name, 4096)
  first.close()
  assert.ok(posixExists(name))
  second.close()
  shmem.unlink(name)

  // The same, with both owned by this process: each close removes only its own object.
  const older = shmem.create(name, 4096, { autoUnlink: true })
  shmem.unlink(name)
  const newer = shmem.create(name, 4096, { autoUnlink: true })
  assert.equal(fs.readdirSync(process.env.SHMEM_REGISTRY).length, 2)
  older.close()
  assert.ok(posixExists(name), 'closing the older one removed the newer one')
  assert.equal(fs.readdirSync(process.env.SHMEM_REGISTRY).length, 1)
  newer.close()
  assert.equal(posixExists(name), false)

  // unlink() by hand ends ownership; disown() keeps the name.
  const third = shmem.create(name, 4096, { autoUnlink: true })
  assert.equal(third.unlink(), true)
  assert.equal(lifecycle.isOwned(third), false)
  third.close()
  const fourth = shmem.create(name, 4096, { autoUnlink: true })
  lifecycle.disown(fourth)
  fourth.close()
  assert.ok(posixExists(name))
  shmem.unlink(name)
  assert.equal(fs.readdirSync(process.env.SHMEM_REGISTRY).length, 0)
})

test('openOrCreate owns only what it created', () => {
  const name = trackPosix(uniqueName('life'))
  const made = shmem.openOrCreate(name, 4096, { autoUnlink: true })
  assert.equal(made.created, true)
  assert.equal(lifecycle.isOwned(made), true)
  const opened = shmem.openOrCreate(name, 4096, { autoUnlink: true })
  assert.equal(opened.created, false)
  assert.equal(lifecycle.isOwned(opened), false)
  opened.close()
  assert.ok(posixExists(name), 'closing an opener removed the name')
  made.close()
  assert.equal(posixExists(name), false)
})

// The creator's liveness is the C core's rule (shmem_liveness, as for the locks and channels):
// a zombie (killed, not yet reaped) and a pid with another start time are dead.
test('a creator is alive by the core\'s rule: a zombie and a reused pid are dead', async () => {
  // sh starts a sleep in the background, then becomes another sleep, which never reaps it:
  // the background one, once killed, stays a zombie until its parent ends.
  const parent = spawn('sh', ['-c', 'sleep 60 & echo $!; exec sleep 60'],
    { stdio: ['ignore', 'pipe', 'ignore'] })
  try {
    const pid = Number(await new Promise((resolve) => parent.stdout.once('data', resolve)))
    // Kill only once sh has become sleep: until then sh itself may reap the child.
    const comm = () => fs.readFileSync(`/proc/${parent.pid}/comm`, 'latin1').trim()
    for (let i = 0; i < 500 && comm() !== 'sleep'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    assert.equal(comm(), 'sleep')
    const ns = { bootId: null, pidNs: fs.readlinkSync('/proc/self/ns/pid') }
    const startTime = lifecycle.processStartTime(pid)
    assert.equal(typeof startTime, 'number')
    assert.equal(lifecycle.creatorAlive({ ...ns, pid, startTime }), true)
    assert.equal(lifecycle.creatorAlive({ ...ns, pid, startTime: startTime + 1 }), false)
    assert.equal(lifecycle.creatorAlive({ ...ns, pid, startTime: null }), false)
    assert.equal(lifecycle.creatorAlive({ ...ns, pid: 2 ** 31, startTime }), false)
    assert.equal(lifecycle.creatorAlive({ ...ns, pidNs: 'pid:[1]', pid, startTime }), null)
    process.kill(pid, 'SIGKILL')
    const state = () => fs.readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1][0]
    for (let i = 0; i < 500 && state() !== 'Z'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    assert.equal(state(), 'Z')
    assert.equal(lifecycle.creatorAlive({ ...ns, pid, startTime }), false)
    assert.equal(lifecycle.processStartTime(pid), null)
  } finally {
    parent.kill('SIGKILL')
  }
})

test('a reused pid is not the creator: the start time decides', () => {
  const name = trackPosix(uniqueName('life'))
  const seg = shmem.create(name, 4096)
  const registry = tempDir()
  try {
    const st = fs.statSync('/dev/shm' + name)
    const start = lifecycle.processStartTime(process.pid)
    const base = {
      format: 'shmem.lifecycle',
      version: 1,
      kind: 'posix',
      name,
      ino: st.ino,
      dev: st.dev,
      birthtimeMs: st.birthtimeMs,
      pid: process.pid,
      bootId: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim(),
      pidNs: fs.readlinkSync('/proc/self/ns/pid'),
      uid: process.getuid(),
      createdMs: Date.now()
    }
    process.env.SHMEM_REGISTRY = registry
    // This very process, with its true start time: alive, so untouched.
    fs.writeFileSync(path.join(registry, 'live.json'), JSON.stringify({ ...base, startTime: start }))
    assert.deepEqual(shmem.gc({ dryRun: true }), [])
    const listed = shmem.list().find((e) => e.name === name)
    assert.deepEqual(listed.creator, { pid: process.pid, startTime: start, alive: true })
    // The same pid with another start time: a process that has ended, whose pid we now have.
    fs.unlinkSync(path.join(registry, 'live.json'))
    fs.writeFileSync(path.join(registry, 'reused.json'),
      JSON.stringify({ ...base, startTime: start - 1 }))
    const planned = shmem.gc({ dryRun: true })
    assert.deepEqual(planned.map((e) => e.name), [name])
    assert.equal(planned[0].creator.alive, false)
    // Another pid namespace (a container sharing /dev/shm): cannot tell, so untouched.
    fs.writeFileSync(path.join(registry, 'reused.json'),
      JSON.stringify({ ...base, startTime: start - 1, pidNs: 'pid:[1]' }))
    assert.deepEqual(shmem.gc({ dryRun: true }), [])
    assert.equal(shmem.list().find((e) => e.name === name).creator.alive, null)
  } finally {
    process.env.SHMEM_REGISTRY = tempDir()
    seg.close()
  }
})

test('garbage in the registry is ignored, not trusted', () => {
  const name = trackPosix(uniqueName('life'))
  const seg = shmem.create(name, 4096)
  const registry = tempDir()
  try {
    const junk = [
      'not json', '{}', 'null', '[]', JSON.stringify({ format: 'shmem.lifecycle', version: 1 }),
      JSON.stringify({ format: 'shmem.lifecycle', version: 1, kind: 'posix', name: '../etc/passwd', pid: 1, startTime: 1, uid: 0, bootId: null, pidNs: null, createdMs: 0, ino: 1, dev: 1, birthtimeMs: 0 }),
      JSON.stringify({ format: 'shmem.lifecycle', version: 1, kind: 'sysv', id: -1, key: 1, cpid: 1, pid: 1, startTime: 1, uid: 0, bootId: null, pidNs: null, createdMs: 0 }),
      'x'.repeat(100000)
    ]
    junk.forEach((text, i) => fs.writeFileSync(path.join(registry, `junk${i}.json`), text))
    fs.mkdirSync(path.join(registry, 'dir.json'))
    process.env.SHMEM_REGISTRY = registry
    assert.deepEqual(shmem.gc(), [])
    assert.ok(posixExists(name))
    assert.equal(fs.readdirSync(registry).length, junk.length + 1, 'gc deleted files it did not understand')
  } finally {
    process.env.SHMEM_REGISTRY = tempDir()
    seg.close()
  }
})

test('a registry others may write to is refused; autoUnlink still works in-process', async () => {
  const registry = tempDir()
  fs.chmodSync(registry, 0o777)
  const c = start('normal', [], { registry })
  const info = await c.info
  const r = await c.done
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /SHMEM_NO_CREATOR_RECORD|cannot record the creator/)
  assert.match(r.stderr, /may be written by other users/)
  for (const name of info.posix) assert.equal(posixExists(name), false)
  process.env.SHMEM_REGISTRY = registry
  try {
    assert.throws(() => shmem.gc(), { code: 'ERR_SHMEM_UNSAFE_REGISTRY' })
  } finally {
    process.env.SHMEM_REGISTRY = tempDir()
  }
})

test('segments a worker thread created: gone when the worker\'s process is killed and gc runs', async () => {
  const registry = tempDir()
  const c = start('worker', [], { registry })
  const info = await c.info
  c.child.kill('SIGTERM')
  const r = await c.done
  assert.equal(r.signal, 'SIGTERM')
  process.env.SHMEM_REGISTRY = registry
  try {
    const removed = shmem.gc()
    assert.deepEqual(removed.map((e) => e.name).filter(Boolean).sort(), [...info.posix].sort())
    assertAllGone(info, registry)
  } finally {
    process.env.SHMEM_REGISTRY = tempDir()
  }
})

test('a worker thread that ends removes the names it owned; the process goes on', async () => {
  const c = start('worker-exit')
  const info = await c.info
  const r = await c.done
  assert.equal(r.code, 0, r.stderr)
  assert.equal(info.workerCode, 0)
  assert.equal(info.gone, true)
  assertAllGone(info, c.registry)
})

test('list() describes POSIX and System V segments field by field', () => {
  const name = trackPosix(uniqueName('life'))
  const seg = shmem.create(name, 3 * 4096, { autoUnlink: true, mode: 0o640 })
  const sv = shmem.sysv.create(null, 8192, { mode: 0o600 })
  trackSysv(sv.key)
  try {
    const entries = shmem.list()
    const p = entries.find((e) => e.name === name)
    const start = lifecycle.processStartTime(process.pid)
    assert.equal(p.kind, 'posix')
    assert.equal(p.key, null)
    assert.equal(p.id, null)
    assert.equal(p.ino, seg.stat().ino)
    assert.equal(p.size, 3 * 4096)
    assert.equal(p.mode, 0o640 & ~process.umask())
    assert.equal(p.uid, process.getuid())
    assert.equal(p.nattch, null)
    assert.equal(p.autoUnlink, true)
    assert.deepEqual(p.creator, { pid: process.pid, startTime: start, alive: true })
    assert.ok(p.ageMs >= 0 && p.ageMs < 60000)
    const s = entries.find((e) => e.kind === 'sysv' && e.id === sv.id)
    assert.equal(s.key, sv.key)
    assert.equal(s.name, null)
    assert.equal(s.size, 8192)
    assert.equal(s.mode, 0o600)
    assert.equal(s.nattch, 1)
    assert.equal(s.cpid, process.pid)
    assert.equal(s.lpid, process.pid)
    assert.equal(s.autoUnlink, false)
    assert.equal(s.creator, null)
    assert.equal(s.pendingRemoval, false)
    // The registry never shows as a segment.
    assert.equal(entries.some((e) => e.name && e.name.includes('.shmem-registry')), false)
  } finally {
    seg.close()
    sv.close()
    sv.remove()
  }
})

test('bad options are argument errors, and nothing is created', () => {
  const name = trackPosix(uniqueName('life'))
  assert.throws(() => shmem.create(name, 4096, { autoUnlink: 'yes' }),
    { code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' })
  assert.equal(posixExists(name), false)
  assert.throws(() => shmem.openOrCreate(name, 4096, { autoUnlink: 1 }),
    { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => shmem.sysv.create(null, 4096, { autoUnlink: null }),
    { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => shmem.gc('x'), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.throws(() => shmem.gc({ dryRun: 'yes' }), { code: 'ERR_INVALID_ARG_TYPE' })
})
