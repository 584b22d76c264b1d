'use strict'
// list(): every POSIX shared memory object (the files of /dev/shm) and System V segment
// (/proc/sysvipc/shm) this user can see, with the creator records of lifecycle.js joined in.

const fs = require('fs')
const lifecycle = require('./lifecycle')
const { validateName, validateInteger } = require('./validate')

function creatorOf (record, alive) {
  if (record === null) return null
  return {
    pid: record.pid,
    startTime: record.startTime,
    alive: alive === undefined ? lifecycle.creatorAlive(record) : alive
  }
}

/** A list() entry for the POSIX object `name` (lstat `st`); record: its creator record. */
function describePosix (name, st, record = null, alive) {
  const createdMs = st.birthtimeMs > 0 ? st.birthtimeMs : st.ctimeMs
  return {
    kind: 'posix',
    name,
    key: null,
    id: null,
    ino: st.ino,
    size: st.size,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    nattch: null,
    cpid: null,
    lpid: null,
    pendingRemoval: false,
    createdMs: Math.round(createdMs),
    ageMs: Math.max(0, Math.round(Date.now() - createdMs)),
    autoUnlink: record !== null,
    creator: creatorOf(record, alive)
  }
}

/** A list() entry for a row of /proc/sysvipc/shm; record: its creator record. */
function describeSysv (row, record = null, alive) {
  const createdMs = row.ctime * 1000
  return {
    kind: 'sysv',
    name: null,
    key: row.key,
    id: row.id,
    ino: null,
    size: row.size,
    mode: row.perms & 0o777,
    uid: row.uid,
    gid: row.gid,
    nattch: row.nattch,
    cpid: row.cpid,
    lpid: row.lpid,
    pendingRemoval: (row.perms & lifecycle.SHM_DEST) !== 0,
    createdMs,
    ageMs: Math.max(0, Date.now() - createdMs),
    autoUnlink: record !== null,
    creator: creatorOf(record, alive)
  }
}

// Creator records indexed for joining: POSIX by name, System V by id. Several records may
// name one object (a stale one and a new one); only one that matches it counts.
function indexRecords () {
  const posix = new Map()
  const sysv = new Map()
  let records = []
  try {
    records = lifecycle.readRecords()
  } catch {} // an unusable registry only means no creators are known
  for (const r of records) {
    const map = r.kind === 'posix' ? posix : sysv
    const key = r.kind === 'posix' ? r.name : r.id
    if (!map.has(key)) map.set(key, [])
    map.get(key).push(r)
  }
  return { posix, sysv }
}

function findPosixRecord (index, name, st) {
  for (const r of index.posix.get(name) || []) if (lifecycle.posixMatches(r, st)) return r
  return null
}

function findSysvRecord (index, row) {
  for (const r of index.sysv.get(row.id) || []) if (lifecycle.sysvMatches(r, row)) return r
  return null
}

// The names in /dev/shm that are POSIX shared memory objects: regular files, except glibc's
// named semaphores (sem.*). The registry is a directory, so it never shows.
function posixNames () {
  let entries
  try {
    entries = fs.readdirSync(lifecycle.SHM_DIR, { withFileTypes: true })
  } catch (err) {
    if (err.code === 'ENOENT') return []
    throw err
  }
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('sem.'))
    .map((e) => `/${e.name}`)
}

/**
 * Every POSIX shared memory object and System V segment visible to this user, POSIX first,
 * each sorted (by name, by id). Linux only (ERR_SHMEM_UNSUPPORTED elsewhere).
 */
function list () {
  lifecycle.requireLinux('shmem.list()')
  const index = indexRecords()
  const out = []
  for (const name of posixNames().sort()) {
    const st = lifecycle.statPosix(name)
    if (st === null) continue // removed meanwhile
    out.push(describePosix(name, st, findPosixRecord(index, name, st)))
  }
  const rows = lifecycle.readSysvTable().sort((a, b) => a.id - b.id)
  for (const row of rows) out.push(describeSysv(row, findSysvRecord(index, row)))
  return out
}

/** One list() entry: a POSIX object by name, or null when there is none. */
function statPosixEntry (name) {
  lifecycle.requireLinux('shmem stat')
  name = validateName(name)
  const st = lifecycle.statPosix(name)
  if (st === null) return null
  return describePosix(name, st, findPosixRecord(indexRecords(), name, st))
}

/** One list() entry: a System V segment by id, or null when there is none. */
function statSysvEntry (id) {
  lifecycle.requireLinux('shmem stat')
  id = validateInteger(id, 'id', 0, 2147483647)
  const row = lifecycle.readSysvTable().find((r) => r.id === id)
  if (row === undefined) return null
  return describeSysv(row, findSysvRecord(indexRecords(), row))
}

module.exports = { list, describePosix, describeSysv, statPosixEntry, statSysvEntry }
