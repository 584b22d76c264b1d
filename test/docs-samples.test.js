'use strict'
// Every JavaScript sample in README.md, CONTRIBUTING.md and docs/*.md runs, exits 0 and
// leaves nothing behind in /dev/shm or System V.
//
// A fenced block whose info string is js, javascript, cjs or mjs is a sample. It is written to
// a file of a temporary directory (sample.js, or sample.mjs for mjs) where `require('shmem')`
// and `import 'shmem'` resolve to this repository (node_modules/shmem is a symlink to it), and
// run there with node. A block is skipped only when it says why, either on the line right
// before its fence:
//
//   <!-- sample: skip (needs two terminals) -->
//
// or on its own first line:
//
//   // sample: skip: needs python3
//
// A skip marker without a reason fails. Blocks that are not whole programs (signatures) are
// fenced as text or ts, not as js.
//
// What a sample leaves: the names in /dev/shm and the System V segments (/proc/sysvipc/shm,
// which `ipcs -m` reads) are listed before and after it. Other programs may create and remove
// segments meanwhile (the tests of another checkout, for one), so a new entry counts as the
// sample's when its name holds the pid of one of the sample's node processes (each one logs
// its pid through a --require hook inherited in NODE_OPTIONS), or a System V segment was
// created by one of them; any other new entry must be gone within a few seconds. Creator
// records (autoUnlink) go to a registry directory of this run's own, which must be empty
// after each sample. What a failed sample leaves is removed.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn, spawnSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')

const root = path.join(__dirname, '..')
const shmem = require('..')

const TIMEOUT_MS = 120000
// The samples use memfd, /dev/shm and /proc: Linux.
const skipAll = process.platform === 'linux' ? false : 'the samples and the leak check need Linux'
const LANGS = new Map([['js', '.js'], ['javascript', '.js'], ['cjs', '.js'], ['mjs', '.mjs']])

// ---- finding the samples ----

function docFiles () {
  const files = ['README.md', 'CONTRIBUTING.md']
  const docs = path.join(root, 'docs')
  for (const f of fs.readdirSync(docs).sort()) if (f.endsWith('.md')) files.push(path.join('docs', f))
  return files.filter((f) => fs.existsSync(path.join(root, f)))
}

const SKIP_HTML = /^\s*<!--\s*sample:\s*skip\b\s*(.*?)\s*-->\s*$/
const SKIP_LINE = /^\s*\/\/\s*sample:\s*skip\b[\s:—-]*(.*)$/

// Returns [{ file, line, lang, code, skip }] for every fenced JavaScript block of a file.
function extract (file) {
  const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n')
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)(.*)$/.exec(lines[i])
    if (!open) continue
    const [, indent, fence, langRaw] = open
    let end = i + 1
    while (end < lines.length && !(lines[end].trim().startsWith(fence) && lines[end].trim().replace(/[`~]/g, '') === '')) end++
    const body = lines.slice(i + 1, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()))
    const lang = langRaw.toLowerCase()
    if (LANGS.has(lang)) {
      let skip = null
      const before = i > 0 ? SKIP_HTML.exec(lines[i - 1]) : null
      const first = body.length > 0 ? SKIP_LINE.exec(body[0]) : null
      if (before) skip = before[1].replace(/^\(|\)$/g, '').trim()
      else if (first) skip = first[1].trim()
      blocks.push({ file, line: i + 1, lang, code: body.join('\n') + '\n', skip })
    }
    i = end
  }
  return blocks
}

// ---- what is in /dev/shm and System V ----

function posixEntries () {
  try {
    return new Set(fs.readdirSync('/dev/shm').filter((n) => !n.startsWith('.shmem-registry-')))
  } catch {
    return new Set()
  }
}

function sysvEntries () {
  const out = new Map()
  let text
  try {
    text = fs.readFileSync('/proc/sysvipc/shm', 'utf8')
  } catch {
    return out
  }
  for (const row of text.split('\n').slice(1)) {
    const f = row.trim().split(/\s+/)
    if (f.length < 6) continue
    out.set(Number(f[1]), { key: Number(f[0]), id: Number(f[1]), cpid: Number(f[4]) })
  }
  return out
}

function unlinkQuietly (name) {
  try { shmem.unlink(name) } catch {}
}

function removeSysvQuietly (id) {
  // By id: a segment of key 0 (IPC_PRIVATE) has no key to remove it by.
  spawnSync('ipcrm', ['-m', String(id)], { stdio: 'ignore' })
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ---- the run directory ----

const runDir = fs.mkdtempSync(path.join(os.tmpdir(), `shmem-docs-samples-${process.pid}-`))
fs.mkdirSync(path.join(runDir, 'node_modules'))
fs.symlinkSync(root, path.join(runDir, 'node_modules', 'shmem'), 'dir')
const registry = path.join(runDir, 'registry')
const pidHook = path.join(runDir, 'log-pid.js')
fs.writeFileSync(pidHook, `const file = process.env.SHMEM_DOCS_SAMPLE_PIDS
if (file) require('fs').appendFileSync(file, process.pid + '\\n')
`)

after(() => fs.rmSync(runDir, { recursive: true, force: true }))

let counter = 0

function runSample (block) {
  const dir = path.join(runDir, `s${++counter}`)
  fs.mkdirSync(dir)
  const file = path.join(dir, `sample${LANGS.get(block.lang)}`)
  fs.writeFileSync(file, block.code)
  const pids = path.join(dir, 'pids')
  fs.writeFileSync(pids, '')
  const env = {
    ...process.env,
    SHMEM_REGISTRY: registry,
    SHMEM_DOCS_SAMPLE_PIDS: pids,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS || ''} --require ${JSON.stringify(pidHook)}`.trim(),
    NODE_PATH: path.join(runDir, 'node_modules')
  }
  delete env.NODE_TEST_CONTEXT
  return new Promise((resolve) => {
    // Its own process group, so that a timeout ends the sample's children too.
    const child = spawn(process.execPath, [file], { cwd: runDir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d) => { output += d })
    child.stderr.on('data', (d) => { output += d })
    const timer = setTimeout(() => {
      try { process.kill(-child.pid, 'SIGKILL') } catch {}
      output += `\n[killed after ${TIMEOUT_MS} ms]`
    }, TIMEOUT_MS)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      // Whatever of its group is still alive (a child it did not wait for) goes now.
      try { process.kill(-child.pid, 'SIGKILL') } catch {}
      const logged = fs.readFileSync(pids, 'utf8').split('\n').filter(Boolean).map(Number)
      resolve({ code, signal, output, pids: new Set([child.pid, ...logged]) })
    })
  })
}

function alive (pid) {
  return pid > 0 && fs.existsSync(`/proc/${pid}`)
}

// The entries a sample left: those new since `before` that are the sample's own (its pid in
// the name, or created by it), and those of no one known that are still there after a grace
// period. New entries that name a live process other than the sample's, or whose System V
// creator is alive, belong to another program and are not counted.
async function leftovers (before, pids) {
  const holdsPid = (name, pid) => new RegExp(`(^|\\D)${pid}(\\D|$)`).test(name)
  const ours = (name) => [...pids].some((pid) => holdsPid(name, pid))
  const foreign = (name) => (name.match(/\d+/g) || []).map(Number).some((n) => !pids.has(n) && alive(n))
  let left
  for (let waited = 0; ; waited += 100) {
    const posix = [...posixEntries()].filter((n) => !before.posix.has(n))
    const sysv = [...sysvEntries().values()].filter((s) => !before.sysv.has(s.id))
    left = {
      posix: posix.filter((n) => ours(n) || !foreign(n)),
      sysv: sysv.filter((s) => pids.has(s.cpid) || !alive(s.cpid))
    }
    const unknown = left.posix.filter((n) => !ours(n)).length + left.sysv.filter((s) => !pids.has(s.cpid)).length
    if (unknown === 0 || waited >= 5000) break
    await sleep(100)
  }
  try { left.records = fs.readdirSync(registry) } catch { left.records = [] }
  return left
}

function cleanUp (left) {
  for (const name of left.posix) unlinkQuietly(name)
  for (const s of left.sysv) removeSysvQuietly(s.id)
  for (const r of left.records) fs.rmSync(path.join(registry, r), { force: true })
}

// ---- the tests ----

const blocks = docFiles().flatMap(extract)
const skipped = blocks.filter((b) => b.skip !== null)

test('the documentation has JavaScript samples, and every skip gives its reason', { skip: skipAll }, () => {
  assert.ok(blocks.length >= 10, `only ${blocks.length} samples found`)
  for (const b of skipped) {
    assert.ok(b.skip.length > 0, `${b.file}:${b.line}: a sample: skip marker must say why`)
  }
  if (skipped.length > 0) {
    console.log(`# skipped samples:\n${skipped.map((b) => `#   ${b.file}:${b.line}: ${b.skip}`).join('\n')}`)
  }
})

for (const block of blocks) {
  const title = `${block.file}:${block.line}`
  if (block.skip !== null) {
    test(title, { skip: block.skip || 'no reason given' }, () => {})
    continue
  }
  test(title, { skip: skipAll }, async () => {
    const before = { posix: posixEntries(), sysv: sysvEntries() }
    const result = await runSample(block)
    const left = await leftovers(before, result.pids)
    try {
      assert.equal(result.code, 0,
        `${title} exited with ${result.signal || result.code}:\n${result.output}`)
      assert.deepEqual(left.posix, [], `${title} left POSIX objects in /dev/shm: ${left.posix.join(', ')}`)
      const sysv = left.sysv.map((s) => `key 0x${(s.key >>> 0).toString(16)} id ${s.id}`)
      assert.deepEqual(sysv, [], `${title} left System V segments: ${sysv.join(', ')}`)
      assert.deepEqual(left.records, [], `${title} left creator records: ${left.records.join(', ')}`)
    } finally {
      // Only what is the sample's own is removed: an entry of no one known that outlived the
      // grace period is reported above and left alone.
      const pidIn = (name) => [...result.pids].some((pid) => name.includes(String(pid)))
      cleanUp({
        posix: left.posix.filter(pidIn),
        sysv: left.sysv.filter((s) => result.pids.has(s.cpid)),
        records: left.records
      })
    }
  })
}
