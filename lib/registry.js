'use strict'
// The creator records of segments made with { autoUnlink: true } (lib/lifecycle.js owns them):
// what lets shmem.gc() find the segments of creators that died without removing them.
//
// A record is a small JSON file in a per-user directory (the registry), one per owned
// segment, named <pid>-<start>-<thread>.<n>-<kind>.json. It says who created the segment (pid and
// process start time, field 22 of /proc/<pid>/stat, so that a reused pid is not mistaken for
// the creator) and which object it was (inode and birth time of a POSIX object, id, key and
// creator pid of a System V segment), so that a name removed by someone else and created
// again later is never mistaken for the recorded one. docs/lifecycle.md explains the choices.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { threadId } = require('worker_threads')
const binding = require('./binding')
const { makeError } = require('./errors')
const { validateName } = require('./validate')
const {
  LINUX, SHM_DIR, SHM_DEST, systemIdentity, selfStartTime, processAlive, statPosix, findSysv
} = require('./proc')

const FORMAT = 'shmem.lifecycle'
const VERSION = 1
const RECORD_MAX_BYTES = 4096

// ---------------------------------------------------------------------------------------
// The directory

const uid = typeof process.getuid === 'function' ? process.getuid() : 0

/**
 * The registry directory: $SHMEM_REGISTRY when set, else /dev/shm/.shmem-registry-<uid> on
 * Linux (a tmpfs that lives exactly as long as the segments do) and
 * <os.tmpdir()>/shmem-registry-<uid> elsewhere.
 */
function registryDir () {
  const env = process.env.SHMEM_REGISTRY
  if (env) return path.resolve(env)
  if (LINUX) return path.join(SHM_DIR, `.shmem-registry-${uid}`)
  return path.join(os.tmpdir(), `shmem-registry-${uid}`)
}

// A registry directory is used only if it is a real directory (not a symlink) owned by this
// user that nobody else may write to: it sits in a world-writable /dev/shm, where anyone could
// have made it first.
function checkRegistry (dir, st) {
  let why = null
  if (!st.isDirectory()) why = 'is not a directory'
  else if (st.uid !== uid) why = `belongs to uid ${st.uid}, not ${uid}`
  else if (st.mode & 0o022) why = 'may be written by other users'
  if (why !== null) throw makeError('ERR_SHMEM_UNSAFE_REGISTRY', dir, why)
}

let readyDir = null

// The registry, created if missing. Throws a system error or ERR_SHMEM_UNSAFE_REGISTRY.
function ensureRegistry () {
  const dir = registryDir()
  if (readyDir === dir) return dir
  try {
    fs.mkdirSync(dir, { mode: 0o700 })
  } catch (err) {
    if (err.code !== 'EEXIST') throw err
  }
  checkRegistry(dir, fs.lstatSync(dir))
  readyDir = dir
  return dir
}

// The registry for reading: null when it does not exist (nothing was ever recorded).
function existingRegistry () {
  const dir = registryDir()
  let st
  try {
    st = fs.lstatSync(dir)
  } catch (err) {
    if (err.code === 'ENOENT') return null
    throw err
  }
  checkRegistry(dir, st)
  return dir
}

// ---------------------------------------------------------------------------------------
// What a record names: its creator, and its object

/**
 * Whether the creator a record names is still running: true, false, or null when this
 * process cannot tell (another pid namespace, or no /proc). The boot and the namespace are
 * the record's; whether its pid and start time name a live process is the C core's rule
 * (lib/proc.js), the one the locks and channels use.
 */
function creatorAlive (record) {
  if (!LINUX) return null
  const self = systemIdentity()
  if (record.bootId !== null && self.bootId !== null && record.bootId !== self.bootId) {
    return false // recorded before the last reboot: that process is gone
  }
  if (record.pidNs === null || record.pidNs !== self.pidNs) return null
  // Without a pid and a start time a record names no process (a creator that could not read
  // its own start time could not have written one that matches).
  if (!Number.isSafeInteger(record.pid) || !Number.isSafeInteger(record.startTime)) return false
  return processAlive(record.pid, record.startTime)
}

// Does the object the system has now match what the record describes?
function posixMatches (record, st) {
  if (st === null) return false
  if (st.ino !== record.ino || st.dev !== record.dev) return false
  // tmpfs reuses inode numbers only after they wrap; the birth time settles it where the
  // kernel reports one.
  if (record.birthtimeMs > 0 && st.birthtimeMs > 0 && st.birthtimeMs !== record.birthtimeMs) {
    return false
  }
  return true
}

function sysvMatches (record, row) {
  if (row === null) return false
  if (record.ipcNs !== undefined && record.ipcNs !== systemIdentity().ipcNs) return false
  if (row.perms & SHM_DEST) return false // already removed; it goes with its last detach
  return row.key === record.key && row.cpid === record.cpid
}

function matches (record, table) {
  if (record.kind === 'posix') return posixMatches(record, statPosix(record.name))
  return sysvMatches(record, findSysv(record.id, table))
}

// ---------------------------------------------------------------------------------------
// Records

let recordCount = 0

// <pid>-<start>-<thread>.<n>-<kind>.json: unique to this record, even when this process
// creates the same name again after someone removed it, and found by its creator's prefix.
function recordFileName (record) {
  return `${record.pid}-${record.startTime}-${threadId}.${++recordCount}-${record.kind}.json`
}

const isInt = (v) => Number.isSafeInteger(v)
const isIntOrNull = (v) => v === null || Number.isSafeInteger(v)
const isStringOrNull = (v) => v === null || (typeof v === 'string' && v.length <= 256)

// A record read from disk is untrusted input: anything that is not exactly the shape written
// by makeRecord() is ignored.
function parseRecord (text) {
  let r
  try {
    r = JSON.parse(text)
  } catch {
    return null
  }
  if (r === null || typeof r !== 'object' || r.format !== FORMAT || r.version !== VERSION) {
    return null
  }
  if (!isInt(r.pid) || r.pid <= 0 || !isIntOrNull(r.startTime) || !isInt(r.uid) ||
      !isStringOrNull(r.bootId) || !isStringOrNull(r.pidNs) || !isInt(r.createdMs)) {
    return null
  }
  if (r.kind === 'posix') {
    if (typeof r.name !== 'string' || !isInt(r.ino) || !isInt(r.dev) ||
        typeof r.birthtimeMs !== 'number' || !Number.isFinite(r.birthtimeMs)) return null
    try {
      if (validateName(r.name) !== r.name) return null
    } catch {
      return null
    }
  } else if (r.kind === 'sysv') {
    if (!isInt(r.id) || r.id < 0 || !isInt(r.key) || !isInt(r.cpid) ||
        !isStringOrNull(r.ipcNs)) return null
  } else {
    return null
  }
  return r
}

/** Every well-formed record in the registry, each with its file's path as .file. */
function readRecords () {
  const dir = existingRegistry()
  if (dir === null) return []
  const records = []
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.json')) continue
    const file = path.join(dir, entry.name)
    let text
    try {
      const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW || 0))
      try {
        const buf = Buffer.alloc(RECORD_MAX_BYTES)
        text = buf.toString('utf8', 0, fs.readSync(fd, buf, 0, RECORD_MAX_BYTES, 0))
      } finally {
        fs.closeSync(fd)
      }
    } catch {
      continue // gone meanwhile, or unreadable
    }
    const record = parseRecord(text)
    if (record !== null) {
      record.file = file
      records.push(record)
    }
  }
  return records
}

function makeRecord (segment) {
  const self = systemIdentity()
  const record = {
    format: FORMAT,
    version: VERSION,
    kind: segment.kind,
    pid: process.pid,
    startTime: selfStartTime(),
    bootId: self.bootId,
    pidNs: self.pidNs,
    uid,
    createdMs: Date.now()
  }
  if (segment.kind === 'posix') {
    const st = fs.fstatSync(segment.fd)
    Object.assign(record, {
      name: segment.name, ino: st.ino, dev: st.dev, birthtimeMs: st.birthtimeMs
    })
  } else {
    Object.assign(record, {
      key: segment.key, id: segment.id, cpid: process.pid, ipcNs: self.ipcNs
    })
  }
  return record
}

let warned = false

// Writes the record (write to a temporary file, then rename, so readers never see half of
// one). A failure leaves the segment owned in this process but invisible to gc; it is
// reported once per process as a warning rather than failing the create that succeeded.
function writeRecord (record) {
  if (!LINUX) return null
  try {
    const dir = ensureRegistry()
    const file = path.join(dir, recordFileName(record))
    const tmp = `${file}.${threadId}.tmp`
    const write = () => fs.writeFileSync(tmp, JSON.stringify(record) + '\n',
      { mode: 0o600, flag: 'w' })
    try {
      write()
    } catch (err) {
      if (err.code !== 'ENOENT') throw err
      readyDir = null // somebody removed the registry: make it again
      ensureRegistry()
      write()
    }
    fs.renameSync(tmp, file)
    return file
  } catch (err) {
    if (!warned) {
      warned = true
      process.emitWarning(`shmem: cannot record the creator of an autoUnlink segment, so ` +
        `shmem.gc() will not find it if this process is killed: ${err.message}`,
      { code: 'SHMEM_NO_CREATOR_RECORD' })
    }
    return null
  }
}

function deleteRecordFile (file) {
  if (file === null) return
  try { fs.unlinkSync(file) } catch {}
}

// Removes the object a record describes if it is still that object. Returns true (removed),
// false (it was gone or is another object now); throws a system error otherwise.
function removeRecorded (record, table) {
  if (record.kind === 'posix') {
    if (LINUX && !posixMatches(record, statPosix(record.name))) return false
    return binding.posixUnlink(record.name)
  }
  if (LINUX && !sysvMatches(record, findSysv(record.id, table))) return false
  return binding.sysvRemoveId(record.id)
}

// A creator killed between writing its record and renaming it into place leaves a
// <pid>-<start>-....tmp file; gc deletes those of dead processes.
function removeDeadTemporaries () {
  const dir = existingRegistry()
  if (dir === null) return
  const self = systemIdentity()
  for (const name of fs.readdirSync(dir)) {
    const m = /^(\d+)-(\d+)-.*\.tmp$/.exec(name)
    if (m === null) continue
    const record = { pid: Number(m[1]), startTime: Number(m[2]), bootId: null, pidNs: self.pidNs }
    if (creatorAlive(record) === false) deleteRecordFile(path.join(dir, name))
  }
}

module.exports = {
  registryDir,
  readRecords,
  makeRecord,
  writeRecord,
  deleteRecordFile,
  creatorAlive,
  posixMatches,
  sysvMatches,
  matches,
  removeRecorded,
  removeDeadTemporaries,
  parseRecord
}
