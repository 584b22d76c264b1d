'use strict'
// What the system has now, as the creator records (lib/registry.js) and list() need it: this
// process's boot and namespaces, whether a process still runs (the C core's rule, the one the
// locks and channels use: src/proc.c), the POSIX objects of /dev/shm and the System V
// segments of /proc/sysvipc/shm.

const fs = require('fs')
const binding = require('./binding')
const { unsupported } = require('./errors')

const LINUX = process.platform === 'linux'
const SHM_DIR = '/dev/shm'
const SHM_DEST = 0o1000

function requireLinux (what) {
  if (!LINUX) throw unsupported(`${what} needs /proc and /dev/shm (Linux)`)
}

// ---------------------------------------------------------------------------------------
// This process

function readOnce (file) {
  try {
    return fs.readFileSync(file, 'latin1').trim()
  } catch {
    return null
  }
}

function readLink (file) {
  try {
    return fs.readlinkSync(file)
  } catch {
    return null
  }
}

let identity = null

/** { bootId, pidNs, ipcNs } of this process (Linux; null fields elsewhere), read once. */
function systemIdentity () {
  if (identity === null) {
    identity = {
      bootId: readOnce('/proc/sys/kernel/random/boot_id'),
      pidNs: readLink('/proc/self/ns/pid'),
      ipcNs: readLink('/proc/self/ns/ipc')
    }
  }
  return identity
}

// ---------------------------------------------------------------------------------------
// Processes

/**
 * The start time (field 22 of /proc/<pid>/stat, clock ticks after boot) of a live process,
 * or null. Linux only. With the pid it names a process for good, since pids are reused.
 */
function processStartTime (pid) {
  if (!LINUX) return null
  return binding.processStartTime(pid)
}

let selfStart

function selfStartTime () {
  if (selfStart === undefined) selfStart = processStartTime(process.pid)
  return selfStart
}

/**
 * Whether the process pid that started at startTime (0: any start) still runs: true, false,
 * or null when this process cannot tell. The C core decides (shmem_liveness): a reused pid
 * and a zombie are dead.
 */
function processAlive (pid, startTime) {
  return binding.processLiveness(pid, startTime)
}

// ---------------------------------------------------------------------------------------
// Objects: what the system has now, by POSIX name or System V id

function posixPath (name) {
  return SHM_DIR + name
}

/** lstat of a POSIX object by name, or null when it does not exist (or is not a file). */
function statPosix (name) {
  try {
    const st = fs.lstatSync(posixPath(name))
    return st.isFile() ? st : null
  } catch (err) {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null
    throw err
  }
}

/**
 * Every System V segment in /proc/sysvipc/shm, as objects with the column names as keys.
 * Columns are found by their header, so a kernel that adds some does not break this.
 */
function readSysvTable () {
  let text
  try {
    text = fs.readFileSync('/proc/sysvipc/shm', 'latin1')
  } catch (err) {
    if (err.code === 'ENOENT') return []
    throw err
  }
  return parseSysvTable(text)
}

// The parsing half of readSysvTable(): the rows of the text of /proc/sysvipc/shm.
function parseSysvTable (text) {
  const lines = text.split('\n')
  const header = lines[0].trim().split(/\s+/)
  const rows = []
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i].trim().split(/\s+/)
    if (cells.length < header.length) continue
    const row = {}
    for (let c = 0; c < header.length; c++) row[header[c]] = cells[c]
    const id = Number(row.shmid)
    if (!Number.isSafeInteger(id)) continue
    rows.push({
      key: Number(row.key) | 0,
      id,
      perms: parseInt(row.perms, 8) || 0,
      size: Number(row.size),
      cpid: Number(row.cpid),
      lpid: Number(row.lpid),
      nattch: Number(row.nattch),
      uid: Number(row.uid),
      gid: Number(row.gid),
      cuid: Number(row.cuid),
      cgid: Number(row.cgid),
      atime: Number(row.atime),
      dtime: Number(row.dtime),
      ctime: Number(row.ctime)
    })
  }
  return rows
}

function findSysv (id, table = readSysvTable()) {
  return table.find((row) => row.id === id) || null
}

module.exports = {
  LINUX,
  SHM_DIR,
  SHM_DEST,
  requireLinux,
  systemIdentity,
  processStartTime,
  selfStartTime,
  processAlive,
  statPosix,
  readSysvTable,
  parseSysvTable,
  findSysv
}
