'use strict'
// Every program in examples/ runs, prints what its comments promise, and leaves nothing in
// /dev/shm. Each runs in a child process; the names it makes carry that child's pid.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn, spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')

const ROOT = path.join(__dirname, '..')
const python = spawnSync('python3', ['-c', 'import multiprocessing.shared_memory'], { encoding: 'utf8' })
const noPython = python.error || python.status !== 0
  ? 'python3 with multiprocessing.shared_memory is not available'
  : false
const redis = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
const noRedis = redis.error || redis.status !== 0
  ? 'redis-server is not installed (Debian: apt-get install redis-server)'
  : false
function missingModules (...ids) {
  const gone = ids.filter((id) => {
    try {
      require.resolve(id)
      return false
    } catch {
      return true
    }
  })
  return gone.length ? `${gone.join(', ')} not installed (devDependencies)` : false
}
const noKeyvRedis = noRedis || missingModules('keyv', 'cacheable', '@keyv/redis')

function run (file) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'examples', file)], { cwd: ROOT })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ pid: child.pid, code, signal, out, err })
    })
  })
}

// Whatever a run left in /dev/shm under its pid is removed, and reported by the assertion.
function leftBy (pid) {
  const left = fs.readdirSync('/dev/shm').filter((n) => n.includes(`-${pid}`))
  for (const n of left) fs.rmSync(path.join('/dev/shm', n), { force: true })
  return left
}

const cases = [
  ['quickstart.js', ['child read:  hello from the parent', 'parent read: hello from the child']],
  ['counter.js', ['total: 400000']],
  ['channel.js', ['parent got: hello 1', 'parent got: hello 2', 'parent got: hello 3', 'parent got: bye']],
  ['lifecycle.js', ['left behind: true', 'gc removed it: true', 'ours is still there: true']],
  ['python.js', ['python read: written by node', 'node read: written by python',
    'still there after Python exited: true'], noPython],
  ['cluster-cache.js', ['requests: 10, misses: 5, hits: 5', 'workers that answered: 2',
    'a worker served what another computed: true', 'entries in the map: 5']],
  ['keyv-redis.js', ['set user:1 in both layers', 'worker read from shmem: {"name":"Ada"}',
    'with shmem empty, {"name":"Ada"} came from: secondary',
    'and is back in shmem: {"name":"Ada"}', 'the next read came from: primary',
    'redis-server stopped'], noKeyvRedis]
]

for (const [file, lines, skip] of cases) {
  test(`examples/${file} runs and cleans up`, { skip }, async () => {
    const r = await run(file)
    const left = leftBy(r.pid)
    assert.equal(r.code, 0, `exit ${r.code} ${r.signal || ''}\n${r.err}`)
    assert.deepEqual(r.out.trim().split('\n'), lines)
    assert.deepEqual(left, [], 'left in /dev/shm')
  })
}

test('every program in examples/ is run above', () => {
  const listed = new Set(cases.map(([file]) => file))
  const present = fs.readdirSync(path.join(ROOT, 'examples')).filter((f) => f.endsWith('.js'))
  assert.deepEqual(present.filter((f) => !listed.has(f)), [])
})
