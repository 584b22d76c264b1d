'use strict'
// SharedMap: writers killed with SIGKILL at random points, half of the kills aimed inside
// update(), where a writer holds the map's lock; readers check every value they get.
//
// What is promised (README "SharedMap", docs/map-format.md "Recovery"): a writer killed at any
// point leaves the map consistent; the next writer takes the lock over and repairs it (and
// stats().recoveries counts it); every key then holds a value some set() wrote in full;
// readers never wait and never see a torn value. So: corrupt (a torn value a reader saw, or
// one found in the map at the end) and hung must be 0, and the writers go on after each kill
// ("recover" is kill -> the next write by any writer). `npm run stress` runs 500 rounds.

const shmem = require('../../..')
const { H, STAGE } = require('../ledger')
const { pick } = require('../engine')

const KEYS = 32

// The same check as the workers' (test/stress/worker.js mapValueOk), for the end of the case.
function checksum (text) {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return (h >>> 0).toString(16)
}

function valueOk (key, v) {
  if (key === 'counter') return /^-?\d+$/.test(String(v))
  const bar = v.lastIndexOf('|')
  return bar >= 0 && checksum(v.slice(0, bar)) === v.slice(bar + 1) &&
    v.split('.')[1] === key.slice(1)
}

module.exports = [{
  name: 'shared-map',
  roles: ['map-writer', 'map-writer', 'map-writer', 'map-reader', 'map-reader'],
  rounds: 500,
  setup (run) {
    const name = run.name('map')
    // Fewer entries than keys: writers evict as they go.
    run.map = shmem.SharedMap.create(name, { capacity: 24, maxKeyBytes: 16,
      maxValueBytes: 256, encoding: 'utf8' })
    return { map: name, mapKeys: KEYS }
  },
  choose (run) {
    const live = run.live()
    const writers = live.filter((w) => w.role === 'map-writer')
    if (Math.random() < 0.1 || writers.length === 0) {
      return { worker: pick(live), signal: 'SIGKILL' }
    }
    const worker = pick(writers)
    return { worker, signal: 'SIGKILL', stage: Math.random() < 0.5 ? STAGE.locked : undefined }
  },
  afterKill (run, w, snap) {
    if (w.role === 'map-reader') return { tag: 'reader' }
    return { tag: snap.stage === STAGE.locked ? 'in update' : 'writer' }
  },
  finish (run) {
    // A write lets the map recover from a writer killed last; then every value must be whole.
    run.map.set('probe', 'x')
    run.map.delete('probe')
    let bad = 0
    let entries = 0
    for (const [key, value] of run.map) {
      entries++
      if (!valueOk(key, value)) bad++
    }
    const st = run.map.stats()
    return {
      lost: 0,
      corrupt: run.ledger.get(H.corrupt) + bad,
      entriesAtEnd: entries,
      recoveries: st.recoveries,
      evictions: st.evictions
    }
  },
  teardown (run) {
    run.map.close()
  }
}]
