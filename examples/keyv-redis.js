'use strict'
// Two cache layers: shmem first (one cache shared by every process of the host, read at
// memory speed), Redis second (shared by every host). An app that outgrows one host keeps its
// code: the layers are Keyv stores under cacheable.
//   node examples/keyv-redis.js
// It starts its own redis-server (Debian's package `redis-server`) on 127.0.0.1 on a free
// port, without persistence, and stops it at the end. Needs the packages keyv, cacheable and
// @keyv/redis (npm install keyv cacheable @keyv/redis).
const { spawn, fork } = require('child_process')
const net = require('net')
const { Keyv } = require('keyv')
const { Cacheable } = require('cacheable')
const { default: KeyvRedis } = require('@keyv/redis')
const { KeyvShmem } = require('../keyv') // in your project: require('shmem/keyv')

const layerName = `/keyv-redis-example-${process.pid}`

// The first layer: a SharedMap every process opens by name. `useKeyPrefix: false` leaves the
// namespace to the store (it prefixes keys itself, as @keyv/redis does).
function shmemLayer (name, options) {
  return new Keyv({ store: new KeyvShmem({ name, namespace: 'app', ...options }),
    useKeyPrefix: false })
}

if (process.argv[2] === 'worker') {
  // Another process of the host: it reads the first layer without asking Redis.
  ;(async () => {
    const layer = shmemLayer(process.argv[3])
    console.log(`worker read from shmem: ${JSON.stringify(await layer.get('user:1'))}`)
    await layer.disconnect()
  })()
} else {
  main().catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
}

function freePort () {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    }).on('error', reject)
  })
}

// Starts redis-server and resolves once it accepts connections.
async function startRedis () {
  const port = await freePort()
  const server = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port),
    '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((resolve, reject) => {
    let out = ''
    server.on('error', reject)
    server.on('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)))
    server.stdout.on('data', (d) => {
      out += d
      if (out.includes('Ready to accept connections')) resolve()
    })
  })
  server.removeAllListeners('exit')
  return { server, url: `redis://127.0.0.1:${port}` }
}

async function main () {
  const { server, url } = await startRedis()
  const first = shmemLayer(layerName, { capacity: 1000, autoUnlink: true })
  const second = new Keyv({ store: new KeyvRedis(url, { namespace: 'app' }), useKeyPrefix: false })
  const cache = new Cacheable({ primary: first, secondary: second, ttl: '1h' })
  let answered = null
  cache.on('cache:hit', ({ store }) => { answered = store })
  try {
    await cache.set('user:1', { name: 'Ada' })
    console.log('set user:1 in both layers')

    const worker = fork(__filename, ['worker', layerName])
    await new Promise((resolve) => worker.on('exit', resolve))

    await first.clear() // as a new host would start: its first layer empty
    answered = null
    const user = await cache.get('user:1')
    console.log(`with shmem empty, ${JSON.stringify(user)} came from: ${answered}`)
    console.log(`and is back in shmem: ${JSON.stringify(await first.get('user:1'))}`)
    answered = null
    await cache.get('user:1')
    console.log(`the next read came from: ${answered}`)
  } finally {
    await cache.disconnect()
    const exited = new Promise((resolve) => server.on('exit', resolve))
    server.kill('SIGTERM')
    await exited
    console.log('redis-server stopped')
  }
}
