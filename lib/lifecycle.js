'use strict'
// Ownership of segments made with { autoUnlink: true }: the creator removes the name when it
// closes the segment, when it exits (normally, by process.exit() or by an uncaught exception)
// and on SIGINT, SIGTERM and SIGHUP. Creator records on disk (lib/registry.js) let shmem.gc()
// find the segments of creators that died without running any of that (kill -9, OOM killer,
// a power cut of the process). docs/lifecycle.md explains the choices and their limits.
//
// This file is the lifecycle API (own, disown, gc); lib/registry.js keeps the records and
// lib/proc.js reads what the system has now. The names other modules took from this file
// before it was split are exported from here still.

const os = require('os')
const path = require('path')
const { isMainThread } = require('worker_threads')
const binding = require('./binding')
const { unsupported } = require('./errors')
const { validateObject, validateBoolean, validateInteger } = require('./validate')
const proc = require('./proc')
const registry = require('./registry')

const { LINUX, requireLinux, systemIdentity, selfStartTime, statPosix, readSysvTable, findSysv } =
  proc
const {
  readRecords, makeRecord, writeRecord, deleteRecordFile, creatorAlive, posixMatches,
  sysvMatches, removeRecorded, removeDeadTemporaries
} = registry

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP']
// Marks this package's signal listeners, in every copy of the package loaded in the process,
// so that none of them counts as "the program's own listener"; its value is that copy's
// removeAll().
const kShmemListener = Symbol.for('shmem.lifecycle.listener')

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

/**
 * IPC_RMID by System V id (the command line's `rm --sysv ID`). True, or false when no
 * segment has that id.
 */
function removeSysvId (id) {
  return binding.sysvRemoveId(validateInteger(id, 'id', 0, 2147483647))
}

// ---------------------------------------------------------------------------------------
// gc

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
  registryDir: registry.registryDir,
  readRecords,
  readSysvTable,
  statPosix,
  creatorAlive,
  processStartTime: proc.processStartTime,
  posixMatches,
  sysvMatches,
  matches: registry.matches,
  requireLinux,
  SHM_DIR: proc.SHM_DIR,
  SHM_DEST: proc.SHM_DEST,
  // Internal, for test/fuzz only: the parsers of what other processes and the kernel wrote.
  // (/proc/<pid>/stat is parsed in C: test/fuzz/fuzz_proc.c feeds that parser.)
  _parsersForTests: { parseRecord: registry.parseRecord, parseSysvTable: proc.parseSysvTable }
}
