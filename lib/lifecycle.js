'use strict'
// Ownership of segments made with { autoUnlink: true }: the creator removes the name when it
// closes the segment, when it exits (normally, by process.exit() or by an uncaught exception)
// and on SIGINT, SIGTERM and SIGHUP. Creator records on disk let shmem.gc() find the segments
// of creators that died without running any of that (kill -9, OOM killer, a power cut of the
// process). docs/lifecycle.md explains the choices and their limits.
//
// A record is a small JSON file in a per-user directory (the registry), one per owned
// segment, named <pid>-<start>-<thread>.<n>-<kind>.json. It says who created the segment (pid and
// process start time, field 22 of /proc/<pid>/stat, so that a reused pid is not mistaken for
// the creator) and which object it was (inode and birth time of a POSIX object, id, key and
// creator pid of a System V segment), so that a name removed by someone else and created
// again later is never mistaken for the recorded one.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { isMainThread, threadId } = require('worker_threads')
const binding = require('./binding')
const { coded, unsupported } = require('./errors')
const { validateObject, validateBoolean, validateName, validateInteger } = require('./validate')

const LINUX = process.platform === 'linux'
const SHM_DIR = '/dev/shm'
const FORMAT = 'shmem.lifecycle'
const VERSION = 1
const RECORD_MAX_BYTES = 4096
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP']
// Marks this package's signal listeners, in every copy of the package loaded in the process,
// so that none of them counts as "the program's own listener"; its value is that copy's
// removeAll().
const kShmemListener = Symbol.for('shmem.lifecycle.listener')

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

function registryError (dir, why) {
  return coded(Error, 'ERR_SHMEM_UNSAFE_REGISTRY',
    `The registry directory ${dir} ${why}: creator records are not used`)
}

// A registry directory is used only if it is a real directory (not a symlink) owned by this
// user that nobody else may write to: it sits in a world-writable /dev/shm, where anyone could
// have made it first.
function checkRegistry (dir, st) {
  if (!st.isDirectory()) throw registryError(dir, 'is not a directory')
  if (st.uid !== uid) throw registryError(dir, `belongs to uid ${st.uid}, not ${uid}`)
  if (st.mode & 0o022) throw registryError(dir, 'may be written by other users')
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
// Processes

function readOnce (file) {
  try {
    return fs.readFileSync(file, 'latin1').trim()
  } catch {
    return null
  }
}

let identity = null

function readLink (file) {
  try {
    return fs.readlinkSync(file)
  } catch {
    return null
  }
}

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

/**
 * Field 3 (state) and field 22 (starttime, in clock ticks after boot) of /proc/<pid>/stat,
 * or null when there is no such process. The command name (field 2) may hold spaces and
 * parentheses, so fields are counted from the last ')'.
 */
function readProcStat (pid) {
  let text
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1')
  } catch (err) {
    if (err.code === 'ENOENT' || err.code === 'ESRCH') return null
    throw err
  }
  return parseProcStat(text)
}

// The parsing half of readProcStat(): { state, startTime } from the text of a stat file, or
// null when it is not shaped like one.
function parseProcStat (text) {
  const close = text.lastIndexOf(')')
  if (close < 0) return null
  const fields = text.slice(close + 2).split(' ')
  const startTime = Number(fields[22 - 3])
  if (!Number.isSafeInteger(startTime)) return null
  return { state: fields[0], startTime }
}

/** The start time (field 22 of /proc/<pid>/stat) of a process, or null. Linux only. */
function processStartTime (pid) {
  if (!LINUX) return null
  const s = readProcStat(pid)
  return s === null ? null : s.startTime
}

let selfStart

function selfStartTime () {
  if (selfStart === undefined) selfStart = processStartTime(process.pid)
  return selfStart
}

/**
 * Whether the creator a record names is still running: true, false, or null when this
 * process cannot tell (another pid namespace, or no /proc).
 */
function creatorAlive (record) {
  if (!LINUX) return null
  const self = systemIdentity()
  if (record.bootId !== null && self.bootId !== null && record.bootId !== self.bootId) {
    return false // recorded before the last reboot: that process is gone
  }
  if (record.pidNs === null || record.pidNs !== self.pidNs) return null
  const s = readProcStat(record.pid)
  if (s === null) return false
  if (s.startTime !== record.startTime) return false // the pid was reused
  if (s.state === 'Z' || s.state === 'X') return false // exited, not yet reaped
  return true
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

const SHM_DEST = 0o1000

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

// ---------------------------------------------------------------------------------------
// Ownership in this thread

// Owned segments of this thread: record (with .file) by a number unique to each Segment
// (one name may be owned twice: created, removed by someone else, created again).
const owned = new Map()
const kOwnerKey = Symbol('shmem.lifecycle.ownerKey')
let ownerCount = 0
let hooksInstalled = false

/**
 * Makes this process the owner of a segment it just created: the name is removed when the
 * segment is closed, when the thread exits and on SIGINT, SIGTERM and SIGHUP (see the
 * module comment), and a creator record lets gc() remove it after a crash. POSIX and
 * System V segments only. Returns the segment.
 */
function own (segment) {
  if (segment.kind !== 'posix' && segment.kind !== 'sysv') {
    throw unsupported(`autoUnlink applies to POSIX and System V segments; this one is ` +
      `'${segment.kind}'`)
  }
  const key = ++ownerCount
  const record = makeRecord(segment)
  record.file = writeRecord(record)
  owned.set(key, record)
  installHooks()

  // Closing removes the name first (so it cannot outlive its owner's use of it), then
  // unmaps. A name removed by hand is not owned any more.
  const proto = Object.getPrototypeOf(segment)
  Object.defineProperty(segment, kOwnerKey, { value: key })
  Object.defineProperty(segment, 'close', {
    configurable: true,
    writable: true,
    value: function close () {
      try {
        if (!segment.closed) release(segment, true)
      } finally {
        proto.close.call(segment)
      }
    }
  })
  const remover = segment.kind === 'posix' ? 'unlink' : 'remove'
  Object.defineProperty(segment, remover, {
    configurable: true,
    writable: true,
    value: function () {
      const result = proto[remover].call(segment)
      release(segment, false)
      return result
    }
  })
  return segment
}

// Ends ownership of a segment; removes its name first when `remove` is true.
function release (segment, remove) {
  const key = segment[kOwnerKey]
  const record = owned.get(key)
  if (record === undefined) return
  owned.delete(key)
  try {
    if (remove) removeRecorded(record)
  } finally {
    deleteRecordFile(record.file)
  }
}

/**
 * Stops owning a segment this process created with autoUnlink: its name stays when the
 * segment closes and when the process ends (for handing it over to another process).
 */
function disown (segment) {
  release(segment, false)
  return segment
}

/** Whether this thread owns the segment (created it with autoUnlink, and not yet removed). */
function isOwned (segment) {
  return segment[kOwnerKey] !== undefined && owned.has(segment[kOwnerKey])
}

// Removes every name this thread owns and, in the main thread, every name recorded for this
// process (worker threads' segments too: the process is ending). Never throws.
function removeAll () {
  const records = [...owned.values()]
  owned.clear()
  if (isMainThread && LINUX) {
    try {
      const prefix = `${process.pid}-${selfStartTime()}-`
      const seen = new Set(records.map((r) => r.file))
      for (const r of readRecords()) {
        if (path.basename(r.file).startsWith(prefix) && !seen.has(r.file)) records.push(r)
      }
    } catch {}
  }
  let table
  for (const record of records) {
    try {
      if (record.kind === 'sysv' && table === undefined) {
        table = LINUX ? readSysvTable() : undefined
      }
      removeRecorded(record, table)
    } catch {}
    deleteRecordFile(record.file)
  }
}

function onExit () {
  removeAll()
}

function makeSignalListener (signal) {
  const listener = function () {
    // The program listens for this signal too: its listener decides what happens, and the
    // exit hook removes the names if it exits.
    const listeners = process.listeners(signal)
    if (listeners.some((l) => typeof l[kShmemListener] !== 'function')) return
    // Every copy of this package loaded in this process removes its names and steps aside,
    // so that the signal's default action (the process ends by the signal: a shell reports
    // 128 + n) happens when it is raised again.
    for (const l of listeners) {
      l[kShmemListener]()
      process.removeListener(signal, l)
    }
    process.kill(process.pid, signal)
    // Delivery is immediate on Linux; this timer only keeps the loop from ending first.
    setTimeout(() => process.exit(128 + os.constants.signals[signal]), 1000)
  }
  listener[kShmemListener] = removeAll
  return listener
}

// Once per thread (each worker has its own process object and exit event). Signals reach
// only the main thread, so only it listens for them.
function installHooks () {
  if (hooksInstalled) return
  hooksInstalled = true
  process.on('exit', onExit)
  if (isMainThread && process.platform !== 'win32') {
    // Node resets every signal to its default action at startup (even one a parent set to
    // SIG_IGN, as nohup does), so listening here never turns an ignored signal into a
    // deadly one: without a listener, Node would die of it too.
    for (const signal of SIGNALS) process.on(signal, makeSignalListener(signal))
  }
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

/**
 * IPC_RMID by System V id (the command line's `rm --sysv ID`). True, or false when no
 * segment has that id.
 */
function removeSysvId (id) {
  return binding.sysvRemoveId(validateInteger(id, 'id', 0, 2147483647))
}

// ---------------------------------------------------------------------------------------
// gc

function requireLinux (what) {
  if (!LINUX) throw unsupported(`${what} needs /proc and /dev/shm (Linux)`)
}

/**
 * Removes the segments this package created with autoUnlink whose creator is dead (per the
 * creator records of this user), and touches nothing else. options.dryRun: only report.
 * Returns the segments removed (or that would be), as list() describes them, each with
 * `removed` (true when this call removed it) and `error` (null, or why it could not be).
 */
function gc (options) {
  requireLinux('shmem.gc()')
  options = validateObject(options, 'options')
  const dryRun = validateBoolean(options.dryRun, 'options.dryRun')
  const { describePosix, describeSysv } = require('./list')
  const table = readSysvTable()
  const results = []
  if (!dryRun) removeDeadTemporaries()
  for (const record of readRecords()) {
    const alive = creatorAlive(record)
    if (alive !== false) continue
    // System V ids mean something only in the IPC namespace that made them.
    if (record.kind === 'sysv' && record.ipcNs !== systemIdentity().ipcNs) continue
    const st = record.kind === 'posix' ? statPosix(record.name) : null
    const row = record.kind === 'sysv' ? findSysv(record.id, table) : null
    const same = record.kind === 'posix' ? posixMatches(record, st) : sysvMatches(record, row)
    if (!same) {
      // The object is gone, or the name (id) is somebody else's now: only the record goes.
      if (!dryRun) deleteRecordFile(record.file)
      continue
    }
    const entry = record.kind === 'posix'
      ? describePosix(record.name, st, record, false)
      : describeSysv(row, record, false)
    entry.removed = false
    entry.error = null
    if (!dryRun) {
      try {
        entry.removed = removeRecorded(record, table)
        deleteRecordFile(record.file)
      } catch (err) {
        entry.error = err
      }
    }
    results.push(entry)
  }
  return results
}

module.exports = {
  own,
  disown,
  isOwned,
  gc,
  removeSysvId,
  registryDir,
  readRecords,
  readSysvTable,
  statPosix,
  creatorAlive,
  processStartTime,
  posixMatches,
  sysvMatches,
  matches,
  requireLinux,
  SHM_DIR,
  SHM_DEST,
  // Internal, for test/fuzz only: the parsers of what other processes and the kernel wrote.
  _parsersForTests: { parseRecord, parseProcStat, parseSysvTable }
}
