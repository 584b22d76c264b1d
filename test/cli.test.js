'use strict'
// The `shmem` command: ls, stat, rm and gc in table and --json form against segments this
// test made (other runs share /dev/shm, so only lines about our names are checked), exit
// codes, one-line errors without stack traces, --help and --version.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('child_process')
const fs = require('fs')
const path = require('path')
const { shmem, uniqueName, trackPosix, trackSysv, tempDir, cleanup, runNode, fixture } =
  require('./helpers')
const lifecycle = require('../lib/lifecycle')

after(cleanup)

process.env.SHMEM_REGISTRY = tempDir()

const BIN = path.join(__dirname, '..', 'bin', 'shmem.js')
const pkg = require('../package.json')

function cli (args, opts = {}) {
  return runNode(BIN, args, opts)
}

// Runs the command as another user (root only).
function cliAs (uid, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      uid, gid: uid, stdio: ['ignore', 'pipe', 'pipe'], cwd: '/'
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

function assertOneLineError (r, code, pattern) {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`)
  const lines = r.stderr.trimEnd().split('\n')
  for (const line of lines) assert.match(line, /^shmem: /)
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace')
  if (pattern) assert.match(r.stderr, pattern)
}

// The row of `shmem ls` (or gc) whose NAME column is `name`, split into its columns.
function row (stdout, name) {
  const line = stdout.split('\n').find((l) => l.split(/\s+/)[1] === name)
  assert.ok(line, `no row for ${name} in:\n${stdout}`)
  return line.trim().split(/\s+/)
}

const hexKey = (key) => `0x${(key >>> 0).toString(16).padStart(8, '0')}`

test('--help, COMMAND --help, --version, and a bad command line', async () => {
  for (const args of [['--help'], ['-h'], ['help']]) {
    const r = await cli(args)
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^Usage: shmem <command>/)
    for (const c of ['ls', 'stat', 'rm', 'gc']) assert.match(r.stdout, new RegExp(`\\n  ${c} `))
  }
  for (const c of ['ls', 'stat', 'rm', 'gc']) {
    const r = await cli([c, '--help'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^Usage: shmem ${c}`))
    assert.equal(r.stderr, '')
  }
  const v = await cli(['--version'])
  assert.equal(v.code, 0)
  assert.equal(v.stdout, `${pkg.version}\n`)

  const none = await cli([])
  assert.equal(none.code, 2)
  assert.match(none.stderr, /^Usage: shmem/)
  assertOneLineError(await cli(['frob']), 2, /unknown command 'frob'/)
  assertOneLineError(await cli(['--frob']), 2, /unknown option '--frob'/)
  assertOneLineError(await cli(['ls', '--bogus']), 2, /ls: unknown option '--bogus'/)
  assertOneLineError(await cli(['ls', 'extra']), 2, /unexpected argument 'extra'/)
  assertOneLineError(await cli(['gc', '--dry-run=yes']), 2)
  assertOneLineError(await cli(['stat']), 2, /expected one name/)
  assertOneLineError(await cli(['stat', 'a', 'b']), 2, /expected one name, got 2/)
  assertOneLineError(await cli(['rm']), 2, /expected names/)
  assertOneLineError(await cli(['stat', '--sysv', '12x']), 2, /neither a System V key .* nor an id/)
  // A name that cannot be one is a bad command line too, and rm removes nothing then.
  assertOneLineError(await cli(['stat', 'a/b']), 2, /stat: 'a\/b' is not a valid name/)
  const keep = trackPosix(uniqueName('cli'))
  shmem.create(keep, 4096).close()
  assertOneLineError(await cli(['rm', keep, 'a/b']), 2, /rm: 'a\/b' is not a valid name/)
  assert.equal(fs.existsSync('/dev/shm' + keep), true, 'nothing removed on a usage error')
  assertOneLineError(await cli(['rm', '--sysv', '1', 'x1']), 2, /neither a System V key/)
  assertOneLineError(await cli(['stat', '--sysv', '0x00000000']), 2, /IPC_PRIVATE, which names no one segment/)
  shmem.unlink(keep)
})

test('stat and rm --sysv take the key as ls shows it, or the id', async () => {
  const sv = shmem.sysv.create(null, 4096)
  trackSysv(sv.key)
  sv.close()
  const byKey = JSON.parse((await cli(['stat', '--sysv', hexKey(sv.key), '--json'])).stdout)
  assert.equal(byKey.id, sv.id)
  const byId = JSON.parse((await cli(['stat', '--sysv', String(sv.id), '--json'])).stdout)
  assert.deepEqual({ ...byId, ageMs: 0 }, { ...byKey, ageMs: 0 })
  assert.equal((await cli(['stat', '--sysv', hexKey(sv.key).toUpperCase().replace('0X', '0x')])).code, 0)
  const rm = await cli(['rm', '--sysv', hexKey(sv.key)])
  assert.equal(rm.code, 0, rm.stderr)
  assert.equal(lifecycle.readSysvTable().some((x) => x.id === sv.id), false)
  assertOneLineError(await cli(['stat', '--sysv', hexKey(sv.key)]), 1,
    new RegExp(`no System V segment has key ${hexKey(sv.key)}`))
})

test('ls: a table and JSON, field by field', async () => {
  const owned = trackPosix(uniqueName('cli'))
  const plain = trackPosix(uniqueName('cli'))
  const a = shmem.create(owned, 3 * 1024 * 1024, { autoUnlink: true })
  const b = shmem.create(plain, 100, { mode: 0o644 })
  const sv = shmem.sysv.create(null, 64 * 1024)
  trackSysv(sv.key)
  try {
    const r = await cli(['ls'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.stdout.split('\n')[0].split(/\s+/),
      ['KIND', 'NAME', 'ID', 'SIZE', 'MODE', 'UID', 'NATTCH', 'CPID', 'LPID', 'CREATOR', 'AGE'])
    assert.deepEqual(row(r.stdout, owned).slice(0, 11),
      ['posix', owned, '-', '3.0', 'MiB', '0600', String(process.getuid()), '-', '-', '-',
        String(process.pid)])
    assert.equal(row(r.stdout, owned)[11], 'alive')
    assert.match(row(r.stdout, owned)[12], /^\d+s$/)
    assert.deepEqual(row(r.stdout, plain).slice(0, 11),
      ['posix', plain, '-', '100', 'B', (0o644 & ~process.umask()).toString(8).padStart(4, '0'),
        String(process.getuid()), '-', '-', '-', '-'])
    const s = row(r.stdout, hexKey(sv.key))
    assert.deepEqual(s.slice(0, 9), ['sysv', hexKey(sv.key), String(sv.id), '64', 'KiB', '0600',
      String(process.getuid()), '1', String(process.pid)])
    assert.equal(s[10], '-') // no creator record: made without autoUnlink

    const j = await cli(['ls', '--json'])
    assert.equal(j.code, 0)
    const entries = JSON.parse(j.stdout)
    assert.ok(Array.isArray(entries))
    const e = entries.find((x) => x.name === owned)
    assert.equal(e.kind, 'posix')
    assert.equal(e.key, null)
    assert.equal(e.id, null)
    assert.equal(e.ino, a.stat().ino)
    assert.equal(e.size, 3 * 1024 * 1024)
    assert.equal(e.mode, 0o600)
    assert.equal(e.uid, process.getuid())
    assert.equal(e.gid, process.getgid())
    assert.equal(e.nattch, null)
    assert.equal(e.cpid, null)
    assert.equal(e.lpid, null)
    assert.equal(e.pendingRemoval, false)
    assert.equal(e.autoUnlink, true)
    assert.deepEqual(e.creator, {
      pid: process.pid, startTime: lifecycle.processStartTime(process.pid), alive: true
    })
    assert.ok(Math.abs(e.createdMs - a.stat().mtimeMs) < 5000)
    assert.ok(e.ageMs >= 0 && e.ageMs < 60000)
    assert.equal(entries.find((x) => x.name === plain).autoUnlink, false)
    assert.equal(entries.find((x) => x.name === plain).creator, null)
    const je = entries.find((x) => x.kind === 'sysv' && x.id === sv.id)
    assert.equal(je.key, sv.key)
    assert.equal(je.name, null)
    assert.equal(je.size, 64 * 1024)
    assert.equal(je.mode, 0o600)
    assert.equal(je.nattch, 1)
    assert.equal(je.cpid, process.pid)
    assert.equal(je.autoUnlink, false)
    assert.equal(je.creator, null)
  } finally {
    a.close()
    b.close()
    sv.close()
    sv.remove()
  }
})

test('ls --all adds the segments of other users', async (t) => {
  if (process.getuid() !== 0) return t.skip('needs root to give a segment to another user')
  const others = trackPosix(uniqueName('cli'))
  const c = shmem.create(others, 4096)
  try {
    fs.fchownSync(c.fd, 65534, 65534) // as if "nobody" had made it
    const r = await cli(['ls'])
    assert.equal(r.code, 0)
    assert.equal(r.stdout.split('\n').some((l) => l.includes(others)), false,
      'ls shows another user\'s segment without --all')
    assert.equal(JSON.parse((await cli(['ls', '--json'])).stdout)
      .some((x) => x.name === others), false)
    const all = await cli(['ls', '--all'])
    assert.equal(all.code, 0)
    assert.deepEqual(row(all.stdout, others).slice(0, 7),
      ['posix', others, '-', '4.0', 'KiB', '0600', '65534'])
    const jall = JSON.parse((await cli(['ls', '--json', '--all'])).stdout)
    assert.equal(jall.find((x) => x.name === others).uid, 65534)
  } finally {
    c.close()
  }
})

test('ls: a name with a newline stays on one line of the table', async () => {
  const name = trackPosix(uniqueName('cli') + '\nx')
  const seg = shmem.create(name, 10)
  try {
    const r = await cli(['ls'])
    assert.equal(r.code, 0)
    const shown = name.replace('\n', '\\x0a')
    assert.deepEqual(row(r.stdout, shown).slice(0, 5), ['posix', shown, '-', '10', 'B'])
    assert.equal(JSON.parse((await cli(['ls', '--json'])).stdout)
      .filter((e) => e.name === name).length, 1)
  } finally {
    seg.close()
  }
})

test('stat: a POSIX name and a System V id, as a table and JSON; a missing one', async () => {
  const name = trackPosix(uniqueName('cli'))
  const seg = shmem.create(name, 8192, { autoUnlink: true })
  const sv = shmem.sysv.create(null, 4096, { autoUnlink: true })
  trackSysv(sv.key)
  try {
    const t = await cli(['stat', name.slice(1)]) // 'x' and '/x' are the same
    assert.equal(t.code, 0, t.stderr)
    const fields = Object.fromEntries(t.stdout.trimEnd().split('\n')
      .map((l) => [l.slice(0, 12).trim(), l.slice(13)]))
    assert.equal(fields.kind, 'posix')
    assert.equal(fields.name, name)
    assert.equal(fields.size, '8.0 KiB (8192 bytes)')
    assert.equal(fields.mode, '0600')
    assert.equal(fields.inode, String(seg.stat().ino))
    assert.equal(fields.autoUnlink, 'yes')
    assert.match(fields['recorded by'], new RegExp(`^pid ${process.pid} \\(start time \\d+\\), alive$`))

    const j = JSON.parse((await cli(['stat', name, '--json'])).stdout)
    assert.equal(j.name, name)
    assert.equal(j.size, 8192)
    assert.equal(j.autoUnlink, true)
    assert.equal(j.creator.pid, process.pid)
    assert.equal(j.creator.alive, true)

    const st = await cli(['stat', '--sysv', String(sv.id)])
    assert.equal(st.code, 0, st.stderr)
    assert.match(st.stdout, new RegExp(`^key +${hexKey(sv.key)} \\(${sv.key}\\)$`, 'm'))
    assert.match(st.stdout, new RegExp(`^id +${sv.id}$`, 'm'))
    assert.match(st.stdout, /^attached +1$/m)
    assert.match(st.stdout, new RegExp(`^creator pid +${process.pid}$`, 'm'))
    const sj = JSON.parse((await cli(['stat', '--sysv', String(sv.id), '--json'])).stdout)
    assert.equal(sj.kind, 'sysv')
    assert.equal(sj.id, sv.id)
    assert.equal(sj.key, sv.key)
    assert.equal(sj.size, 4096)
    assert.equal(sj.nattch, 1)
    assert.equal(sj.autoUnlink, true)
  } finally {
    seg.close()
    sv.close()
  }
  assertOneLineError(await cli(['stat', name]), 1,
    new RegExp(`stat: ${name}: no such shared memory object`))
  assertOneLineError(await cli(['stat', '--sysv', String(sv.id)]), 1,
    new RegExp(`no System V segment has id ${sv.id}`))
  assertOneLineError(await cli(['stat', 'a/b']), 2, /not a valid name/)
})

test('stat of a SharedMap: entries, bytes, hit rate and recoveries, as a table and JSON',
  async () => {
    const name = trackPosix(uniqueName('cli-map'))
    const map = shmem.SharedMap.create(name, { capacity: 16, encoding: 'utf8' })
    const plain = trackPosix(uniqueName('cli'))
    const seg = shmem.create(plain, 4096)
    try {
      map.set('a', 'xyz').set('b', '12')
      map.get('a')
      map.get('a')
      map.get('none')
      map.stats() // adds this process's hits and misses to the map's counters
      const t = await cli(['stat', name])
      assert.equal(t.code, 0, t.stderr)
      const fields = Object.fromEntries(t.stdout.trimEnd().split('\n')
        .map((l) => [l.slice(0, 12).trim(), l.slice(13)]))
      assert.equal(fields.map, 'SharedMap, utf8 values, evict lru')
      assert.equal(fields.entries, '2 of 16')
      assert.match(fields.bytes, /^7 B \(7 bytes\) of keys and values/)
      assert.equal(fields['hit rate'], '66.7% (2 hits, 1 misses)')
      assert.equal(fields.recoveries, '0')
      const j = JSON.parse((await cli(['stat', name, '--json'])).stdout)
      assert.equal(j.name, name)
      assert.deepEqual(j.map, { entries: 2, bytes: 7, capacity: 16, hits: 2, misses: 1,
        evictions: 0, expirations: 0, recoveries: 0, hitRate: 2 / 3, encoding: 'utf8',
        evict: 'lru', maxKeyBytes: 64, maxValueBytes: 1024, ttl: 0 })
      // An object that holds no map shows no map, whatever its bytes.
      seg.buffer.fill(0x53)
      const p = await cli(['stat', plain, '--json'])
      assert.equal(p.code, 0, p.stderr)
      assert.equal('map' in JSON.parse(p.stdout), false)
      assert.doesNotMatch((await cli(['stat', plain])).stdout, /^(map|hit rate) /m)
    } finally {
      map.close()
      seg.close()
    }
  })

test('rm: names and System V ids; what could not be removed is named, with why', async () => {
  const one = trackPosix(uniqueName('cli'))
  const two = trackPosix(uniqueName('cli'))
  const missing = uniqueName('cli')
  shmem.create(one, 4096).close()
  shmem.create(two, 4096).close()
  const r = await cli(['rm', one, missing, two])
  assertOneLineError(r, 1, new RegExp(`cannot remove '${missing}': no such shared memory object`))
  assert.equal(r.stderr.trimEnd().split('\n').length, 1)
  assert.equal(fs.existsSync('/dev/shm' + one), false)
  assert.equal(fs.existsSync('/dev/shm' + two), false)

  const sv = shmem.sysv.create(null, 4096)
  trackSysv(sv.key)
  sv.close()
  const ok = await cli(['rm', '--sysv', String(sv.id)])
  assert.equal(ok.code, 0, ok.stderr)
  assert.equal(ok.stderr, '')
  assert.equal(lifecycle.readSysvTable().some((x) => x.id === sv.id), false)
  assertOneLineError(await cli(['rm', '--sysv', String(sv.id)]), 1,
    new RegExp(`cannot remove System V id ${sv.id}: no such segment`))
})

test('rm: permission denied is one line and exit code 1', async (t) => {
  if (process.getuid() !== 0) return t.skip('needs root to run the command as another user')
  const name = trackPosix(uniqueName('cli'))
  const seg = shmem.create(name, 4096)
  try {
    // As "nobody": /dev/shm is sticky, so only the owner may remove the name (glibc's
    // shm_unlink reports that EPERM as EACCES).
    const r = await cliAs(65534, ['rm', name])
    assertOneLineError(r, 1, new RegExp(`cannot remove '${name}': permission denied`))
    assert.ok(fs.existsSync('/dev/shm' + name))
  } finally {
    seg.close()
  }
})

test('gc: kill -9 leaves a segment; gc --dry-run lists it, gc removes it, others stay',
  async () => {
    const registry = tempDir()
    const env = { SHMEM_REGISTRY: registry }
    const dead = startChild(registry)
    const live = startChild(registry)
    const deadInfo = await dead.info
    const liveInfo = await live.info
    try {
      dead.child.kill('SIGKILL')
      await dead.done

      const dry = await cli(['gc', '--dry-run'], { env })
      assert.equal(dry.code, 0, dry.stderr)
      const header = dry.stdout.split('\n')[0].split(/\s+/)
      assert.deepEqual(header, ['KIND', 'NAME', 'ID', 'SIZE', 'CREATOR', 'AGE', 'STATUS'])
      for (const name of deadInfo.posix) {
        const cols = row(dry.stdout, name)
        assert.deepEqual(cols.slice(0, 3), ['posix', name, '-'])
        assert.deepEqual(cols.slice(5, 7), [String(dead.child.pid), 'dead'])
        assert.deepEqual(cols.slice(8), ['would', 'remove'])
      }
      const sv = row(dry.stdout, hexKey(deadInfo.sysv[0].key))
      assert.equal(sv[2], String(deadInfo.sysv[0].id))
      // Exactly the dead creator's three segments (this registry is the test's own).
      assert.equal(dry.stdout.trimEnd().split('\n').length, 4)
      for (const name of deadInfo.posix) assert.ok(fs.existsSync('/dev/shm' + name))

      const dj = JSON.parse((await cli(['gc', '--dry-run', '--json'], { env })).stdout)
      assert.equal(dj.length, 3)
      for (const e of dj) {
        assert.equal(e.removed, false)
        assert.equal(e.error, null)
        assert.equal(e.autoUnlink, true)
        assert.deepEqual(Object.keys(e.creator), ['pid', 'startTime', 'alive'])
        assert.equal(e.creator.pid, dead.child.pid)
        assert.equal(e.creator.alive, false)
      }
      assert.deepEqual(dj.filter((e) => e.kind === 'posix').map((e) => e.name).sort(),
        [...deadInfo.posix].sort())
      const djs = dj.find((e) => e.kind === 'sysv')
      assert.equal(djs.id, deadInfo.sysv[0].id)
      assert.equal(djs.key, deadInfo.sysv[0].key)
      assert.equal(djs.nattch, 0)

      const real = await cli(['gc', '--json'], { env })
      assert.equal(real.code, 0, real.stderr)
      const removed = JSON.parse(real.stdout)
      assert.equal(removed.length, 3)
      for (const e of removed) assert.equal(e.removed, true)
      for (const name of deadInfo.posix) assert.equal(fs.existsSync('/dev/shm' + name), false)
      assert.equal(lifecycle.readSysvTable().some((x) => x.id === deadInfo.sysv[0].id), false)
      // The live creator's segments, and those made without autoUnlink, stay.
      for (const name of [...liveInfo.posix, ...deadInfo.plain, ...liveInfo.plain]) {
        assert.ok(fs.existsSync('/dev/shm' + name), name)
      }
      const table = lifecycle.readSysvTable()
      for (const s of [...liveInfo.sysv, ...deadInfo.plainSysv, ...liveInfo.plainSysv]) {
        assert.ok(table.some((x) => x.id === s.id))
      }
      const again = await cli(['gc'], { env })
      assert.equal(again.code, 0)
      assert.equal(again.stdout, 'nothing to collect\n')
    } finally {
      live.child.kill('SIGTERM')
      await live.done
    }
  })

test('gc as a table: what it removed', async () => {
  const registry = tempDir()
  const dead = startChild(registry)
  const info = await dead.info
  dead.child.kill('SIGKILL')
  await dead.done
  const r = await cli(['gc'], { env: { SHMEM_REGISTRY: registry } })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout.trimEnd().split('\n').length, 4)
  for (const name of info.posix) {
    const cols = row(r.stdout, name)
    assert.deepEqual(cols.slice(5, 7), [String(dead.child.pid), 'dead'])
    assert.equal(cols[8], 'removed')
    assert.equal(fs.existsSync('/dev/shm' + name), false)
  }
  assert.equal(row(r.stdout, hexKey(info.sysv[0].key))[8], 'removed')
  assert.ok(fs.existsSync('/dev/shm' + info.plain[0]), 'gc removed a segment without autoUnlink')
})

test('gc: an unsafe registry is a one-line error', async () => {
  const registry = tempDir()
  fs.chmodSync(registry, 0o777)
  assertOneLineError(await cli(['gc'], { env: { SHMEM_REGISTRY: registry } }), 1,
    /ERR_SHMEM_UNSAFE_REGISTRY|may be written by other users/)
})

// The fixture of test/lifecycle.test.js, in its 'wait' form.
function startChild (registry) {
  const tag = uniqueName('cli')
  for (const suffix of ['-a', '-b', '-plain']) trackPosix(tag + suffix)
  const child = spawn(process.execPath, [fixture('lifecycle-child.js'), 'wait', tag], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SHMEM_REGISTRY: registry }
  })
  let stdout = ''
  const info = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d
      if (stdout.includes('\n')) {
        const parsed = JSON.parse(stdout.slice(0, stdout.indexOf('\n')))
        for (const s of [...parsed.sysv, ...parsed.plainSysv]) trackSysv(s.key)
        resolve(parsed)
      }
    })
    child.on('close', () => reject(new Error('the child ended before it reported')))
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 20000)
  const done = new Promise((resolve) => child.on('close', (code, signal) => {
    clearTimeout(timer)
    resolve({ code, signal })
  }))
  return { child, info, done }
}
