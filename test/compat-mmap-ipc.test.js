'use strict'
// compat/mmap-ipc: open-or-create without truncation, locks across processes and between two
// instances of one process, no unlink on garbage collection, misuse in a child process, and
// the seed README's two-process example (read from the seeds at run time), driven in the
// order its comments give.

const { test } = require('node:test')
const assert = require('assert')
const fs = require('fs')
const { spawn } = require('child_process')
const { shmem, uniqueName, trackPosix, runNode, runSnippet, fixture } = require('./helpers')
const seeds = require('./fixtures/compat-seeds')
const mmapIPC = require('../compat/mmap-ipc')

const SEED_MD = '002_50bb822278091129.txt' // the README as Markdown
const SEED_PAGE = '000_96d9182b5b5efc0b.txt' // the same README as a web page (no code fences)

// A name for mmapIPC (which adds the '/'), tracked for removal.
function ipcName () {
  return trackPosix(uniqueName('compat-ipc')).slice(1)
}

// Spawns a fixture and resolves `ready` when its stdout has a line matching re.
function start (file, args, re) {
  const child = spawn(process.execPath, [file, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d
      if (re.test(stdout)) resolve(stdout)
    })
    child.on('close', (code) => reject(new Error(`exited ${code} before ${re}\n${stdout}\n${stderr}`)))
  })
  const done = new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout: () => stdout, stderr }))
  })
  return { child, ready, done, stdout: () => stdout }
}

test('open-or-create: created with size, opened without truncation, buffer() is one Buffer', (t) => {
  const name = ipcName()
  const a = new mmapIPC(name, 8192, false)
  t.after(() => a.close())
  assert.strictEqual(fs.statSync(`/dev/shm/${name}`).size, 8192)
  assert.strictEqual(a.buffer(), a.buffer())
  assert.strictEqual(a.buffer().length, 8192)
  a.buffer().write('kept')
  // Opening with a smaller size maps that much and leaves the object (and its data) alone.
  const b = new mmapIPC(name, 4096, true)
  t.after(() => b.close())
  assert.strictEqual(b.buffer().length, 4096)
  assert.strictEqual(b.buffer().toString('utf8', 0, 4), 'kept')
  assert.strictEqual(fs.statSync(`/dev/shm/${name}`).size, 8192)
  assert.strictEqual(typeof a.acquireReadLock(), 'boolean')
  assert.strictEqual(a.removeLock(), true)
  assert.strictEqual(a.removeLock(), true) // nothing held: still true, as flock(LOCK_UN) is
})

test('the static CreateNewItem is new mmapIPC(...)', () => {
  const name = ipcName()
  const a = mmapIPC.CreateNewItem(name, 4096, false)
  assert.ok(a instanceof mmapIPC)
  a.buffer().write('made by CreateNewItem')
  const b = new mmapIPC(name, 4096, false)
  assert.strictEqual(b.buffer().toString('utf8', 0, 21), 'made by CreateNewItem')
  assert.throws(() => mmapIPC.CreateNewItem(42, 4096), { code: 'ERR_INVALID_ARG_TYPE' })
})

test('the write lock excludes another process; the read lock is shared', async (t) => {
  const name = ipcName()
  const me = new mmapIPC(name, 4096, false)
  t.after(() => me.close())
  const holder = start(fixture('compat-ipc-holder.js'), [name, '4096', 'write'], /^HELD$/m)
  t.after(() => holder.child.kill('SIGKILL'))
  await holder.ready
  // Held elsewhere: the Promise variants wait (and time out) without blocking this loop.
  assert.strictEqual(await me.acquireReadLockAsync({ timeout: 100 }), false)
  assert.strictEqual(await me.acquireWriteLockAsync({ timeout: 100 }), false)
  const waiting = me.acquireReadLockAsync()
  holder.child.stdin.end()
  assert.strictEqual(await waiting, true)
  const r = await holder.done
  assert.strictEqual(r.code, 0, r.stderr)
  assert.match(r.stdout(), /^RELEASED$/m)

  // Two readers at once: a reader in another process gets the lock while we hold ours.
  const reader = start(fixture('compat-ipc-holder.js'), [name, '4096', 'read'], /^HELD$/m)
  t.after(() => reader.child.kill('SIGKILL'))
  await reader.ready
  assert.strictEqual(await me.acquireWriteLockAsync({ timeout: 100 }), false)
  reader.child.stdin.end()
  assert.strictEqual((await reader.done).code, 0)
  assert.strictEqual(me.removeLock(), true)
})

test('a blocking acquire waits for another process to release', async (t) => {
  const name = ipcName()
  const holder = start(fixture('compat-ipc-holder.js'), [name, '4096', 'write'], /^HELD$/m)
  t.after(() => holder.child.kill('SIGKILL'))
  await holder.ready
  // This child blocks in acquireReadLock() until the holder lets go; it prints what it read.
  const reader = spawn(process.execPath, ['-e', `
    const mmapIPC = require(${JSON.stringify(require.resolve('../compat/mmap-ipc'))})
    const ipc = new mmapIPC(${JSON.stringify(name)}, 4096, false)
    console.log('WAITING')
    const ok = ipc.acquireReadLock()
    console.log('GOT ' + ok + ' ' + ipc.buffer().toString('utf8', 0, 6))
  `], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => reader.kill('SIGKILL'))
  let out = ''
  reader.stdout.on('data', (d) => { out += d })
  await new Promise((resolve) => reader.stdout.on('data', () => { if (/WAITING/.test(out)) resolve() }))
  // While the lock is held the reader cannot have read; write, then release.
  const writer = new mmapIPC(name, 4096, false)
  t.after(() => writer.close())
  writer.buffer().write('after!')
  await new Promise((resolve) => setTimeout(resolve, 100))
  assert.doesNotMatch(out, /GOT/)
  holder.child.stdin.end()
  const code = await new Promise((resolve) => reader.on('close', resolve))
  assert.strictEqual(code, 0)
  assert.match(out, /^GOT true after!$/m)
})

test('two instances of one name in one process do not freeze it (child process)', async () => {
  const name = ipcName()
  const r = await runNode(fixture('compat-ipc-two.js'), [name], { timeout: 20000 })
  assert.strictEqual(r.signal, null, r.stderr)
  assert.strictEqual(r.code, 0, r.stderr)
  assert.match(r.stdout, /^two ok$/m)
})

test('garbage collection and exit never unlink the object (child process)', async () => {
  const name = ipcName()
  const r = await runSnippet(`
    const mmapIPC = require(${JSON.stringify(require.resolve('../compat/mmap-ipc'))})
    let ipc = new mmapIPC(${JSON.stringify(name)}, 4096, false)
    ipc.buffer().write('survives')
    ipc = null
    for (let i = 0; i < 5; i++) {
      globalThis.gc()
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.ok(require('fs').existsSync('/dev/shm/${name}'))
    console.log('collected')
  `, { nodeArgs: ['--expose-gc'] })
  assert.strictEqual(r.code, 0, r.stderr)
  assert.match(r.stdout, /^collected$/m)
  const seg = shmem.open(name)
  assert.strictEqual(seg.buffer.toString('utf8', 0, 8), 'survives')
  seg.close()
})

test('misuse that crashes the original throws here (child process exits 0)', async () => {
  const r = await runNode(fixture('compat-ipc-misuse.js'), [ipcName()])
  assert.strictEqual(r.signal, null, r.stderr)
  assert.strictEqual(r.code, 0, r.stderr)
  assert.match(r.stdout, /^misuse ok$/m)
})

// --- the seed README's example ---

// The page version has no code fences: its two programs start at 'Process #N:' and end at
// the next heading-like line.
function pageBlocks (text) {
  const lines = text.split('\n')
  const blocks = []
  let current = null
  for (const line of lines) {
    if (/^\s*Process #\d:\s*$/.test(line)) {
      current = []
      blocks.push(current)
    } else if (/^\s*(To test this example|API:)/.test(line)) {
      current = null
    } else if (current) {
      current.push(line)
    }
  }
  return blocks.map((b) => b.join('\n'))
}

const norm = (code) => code.split('\n').map((l) => l.trim()).filter(Boolean).join('\n')

const skip = seeds.skipUnlessSeed(SEED_MD) || seeds.skipUnlessSeed(SEED_PAGE)

test('seed: the two-process example, each process printing what the README says', { skip }, async (t) => {
  const js = seeds.fencedBlocks(seeds.readSeed(SEED_MD)).filter((b) => b.lang === 'js')
  assert.strictEqual(js.length, 2)
  // Both seed files hold the same two programs.
  const page = pageBlocks(seeds.readSeed(SEED_PAGE))
  assert.deepStrictEqual(page.map(norm), js.map((b) => norm(b.code)))

  // The example uses the fixed name "SharedBuf", like every run of this test on the machine:
  // runs take turns through a machine-wide lock, and one never removes a SharedBuf it did
  // not make (if one exists before we start, someone else's, the test skips).
  const release = await seeds.machineLock('compat-mmap-ipc-SharedBuf')
  t.after(release)
  if (fs.existsSync('/dev/shm/SharedBuf')) {
    t.skip('/dev/shm/SharedBuf exists and is not this test\'s')
    return
  }
  t.after(() => shmem.unlink('/SharedBuf'))

  const ws = seeds.workspace()
  t.after(() => ws.remove())
  const [p1, p2] = js.map((b, i) => ws.write(`process${i + 1}.js`,
    seeds.replaceRequire(b.code, 'mmap-ipc', 'shmem/compat/mmap-ipc')))
  const zeros = (n) => '\0'.repeat(n)
  const msg1 = 'Message from process #1'
  const msg2 = 'This is process #2, I got your message!'

  // Process #1 first: it creates SharedBuf, writes its message under the write lock, and reads
  // it back under the read lock.
  const r1 = await seeds.run(p1, { cwd: ws.dir })
  assert.strictEqual(r1.code, 0, r1.stderr)
  assert.deepStrictEqual(r1.stdout.split('\n'), [
    'Acquire write lock:', 'true', String(msg1.length), 'Finished writing!',
    'Removing lock...', 'true', 'Acquire read lock:', 'true', msg1 + zeros(4096 - msg1.length),
    'Finished reading!', 'true', 'Removing lock...', ''])

  // Then Process #2, while this test holds the write lock (as Process #1 would while
  // writing): it must wait in acquireReadLock() until the lock is removed, then read
  // Process #1's message and answer it.
  const holder = new mmapIPC('SharedBuf', 4096, false)
  t.after(() => holder.close())
  assert.strictEqual(holder.acquireWriteLock(), true)
  const second = start(p2, [], /^Acquire read lock:$/m)
  t.after(() => second.child.kill('SIGKILL'))
  await second.ready
  await new Promise((resolve) => setTimeout(resolve, 100))
  assert.strictEqual(second.stdout(), 'Acquire read lock:\n') // still waiting
  assert.strictEqual(holder.removeLock(), true)
  const r2 = await second.done
  assert.strictEqual(r2.code, 0, r2.stderr)
  assert.deepStrictEqual(r2.stdout().split('\n'), [
    'Acquire read lock:', 'true', msg1 + zeros(4096 - msg1.length), 'Finished reading!',
    'Acquire write lock:', 'true', String(msg2.length), 'Finished writing!',
    'Removing lock...', 'true', ''])
  // Process #2's answer is in the shared memory, and the object was not unlinked by anyone.
  assert.strictEqual(holder.buffer().toString('ascii', 0, msg2.length), msg2)
  assert.ok(fs.existsSync('/dev/shm/SharedBuf'))
})
