'use strict'
// An HTTP server run by `cluster` workers that share one cache: a value one worker computed,
// every other worker serves from the SharedMap, with no copy per worker and no Redis.
//   node examples/cluster-cache.js
// The primary creates the map (removed when it exits: autoUnlink), starts two workers that
// open it, makes a few requests itself, prints what the cache did, and shuts everything down.
const cluster = require('cluster')
const http = require('http')
const { SharedMap } = require('..') // in your project: require('shmem')

const WORKERS = 2
const KEYS = 5 // an odd count: with round-robin, the second round goes to the other worker

if (cluster.isPrimary) {
  primary().catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
} else {
  worker()
}

// Each worker: GET /square/<n> answers n * n, from the cache when any worker computed it.
function worker () {
  const cache = SharedMap.open(process.env.CACHE_NAME)
  const server = http.createServer((req, res) => {
    const key = req.url
    let value = cache.get(key)
    const hit = value !== undefined
    if (!hit) {
      const n = Number(key.split('/').pop())
      value = { square: n * n, computedBy: cluster.worker.id }
      cache.set(key, value, { ttl: 60000 })
    }
    res.setHeader('x-cache', hit ? 'hit' : 'miss')
    res.setHeader('x-worker', String(cluster.worker.id))
    res.end(JSON.stringify(value))
  })
  server.listen(0, '127.0.0.1') // workers share the port the primary picks
  process.on('disconnect', () => {
    server.close()
    cache.close()
  })
}

function get (port, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve({ headers: res.headers, body: JSON.parse(body) }))
    }).on('error', reject)
  })
}

async function primary () {
  const name = `/cluster-cache-example-${process.pid}`
  const cache = SharedMap.create(name, { capacity: 1024, autoUnlink: true })
  cluster.schedulingPolicy = cluster.SCHED_RR
  cluster.setupPrimary({ silent: false })
  const workers = []
  const listening = []
  for (let i = 0; i < WORKERS; i++) {
    const w = cluster.fork({ CACHE_NAME: name })
    workers.push(w)
    listening.push(new Promise((resolve) => w.once('listening', (address) => resolve(address))))
  }
  const { port } = (await Promise.all(listening))[0]

  const counts = { hit: 0, miss: 0 }
  const answeredBy = new Set()
  let fromAnother = 0
  for (let round = 0; round < 2; round++) {
    for (let n = 0; n < KEYS; n++) {
      const { headers, body } = await get(port, `/square/${n}`)
      counts[headers['x-cache']]++
      answeredBy.add(headers['x-worker'])
      if (headers['x-cache'] === 'hit' && String(body.computedBy) !== headers['x-worker']) {
        fromAnother++
      }
    }
  }
  console.log(`requests: ${2 * KEYS}, misses: ${counts.miss}, hits: ${counts.hit}`)
  console.log(`workers that answered: ${answeredBy.size}`)
  console.log(`a worker served what another computed: ${fromAnother > 0}`)
  console.log(`entries in the map: ${cache.size}`)

  await Promise.all(workers.map((w) => new Promise((resolve) => {
    w.once('exit', resolve)
    w.disconnect()
  })))
  cache.close()
}
