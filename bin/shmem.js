#!/usr/bin/env node
'use strict'
// The `shmem` command: see, inspect and remove shared memory segments, and collect the ones
// whose creator died. `shmem --help` says how; docs/api.md ("Command line") documents it.
//
// Exit codes: 0 done, 1 something could not be done (the message says what and why),
// 2 the command line itself is wrong.

const { parseArgs } = require('util')
const path = require('path')

const PROGRAM = 'shmem'

const HELP = require('./help')

// An error the user caused or can fix: printed as one line, no stack.
class UsageError extends Error {}
class Failure extends Error {}

let shmem = null

// Loading the addon can fail (not built); say so in one line.
function lib () {
  if (shmem === null) {
    shmem = {
      list: require('../lib/list'),
      lifecycle: require('../lib/lifecycle'),
      open: require('../lib/open'),
      SharedMap: require('../lib/shared-map').SharedMap
    }
  }
  return shmem
}

function out (text) {
  process.stdout.write(text + '\n')
}

function err (text) {
  process.stderr.write(`${PROGRAM}: ${text}\n`)
}

// ---------------------------------------------------------------------------------------
// Formatting

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB']

/** 512 B, 4.0 KiB, 1.5 MiB, 12 GiB. */
function formatSize (bytes) {
  if (bytes < 1024) return `${bytes} B`
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`
}

/** 42s, 5m, 3h, 2d. */
function formatAge (ms) {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m`
  if (s < 86400) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86400)}d`
}

function formatMode (mode) {
  return mode.toString(8).padStart(4, '0')
}

function formatKey (key) {
  return `0x${(key >>> 0).toString(16).padStart(8, '0')}`
}

function formatCreator (creator) {
  if (creator === null) return '-'
  const state = creator.alive === true ? 'alive' : creator.alive === false ? 'dead' : 'unknown'
  return `${creator.pid} ${state}`
}

const dash = (v) => (v === null || v === undefined ? '-' : String(v))

// Columns: [header, value of an entry, right-aligned?]
function table (rows, columns) {
  const cells = rows.map((row) => columns.map(([, get]) => get(row)))
  const widths = columns.map(([title], c) =>
    Math.max(title.length, ...cells.map((line) => line[c].length)))
  const line = (values) => values.map((v, c) => {
    const last = c === columns.length - 1
    if (columns[c][2]) return v.padStart(widths[c])
    return last ? v : v.padEnd(widths[c])
  }).join('  ').trimEnd()
  return [line(columns.map(([title]) => title)), ...cells.map(line)].join('\n')
}

// Names may hold any byte but '/' and NUL: show control characters as \xNN so that one
// entry stays one line of the table.
function printable (name) {
  return name.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

const LS_COLUMNS = [
  ['KIND', (e) => e.kind],
  ['NAME', (e) => (e.kind === 'posix' ? printable(e.name) : formatKey(e.key))],
  ['ID', (e) => dash(e.id), true],
  ['SIZE', (e) => formatSize(e.size), true],
  ['MODE', (e) => formatMode(e.mode)],
  ['UID', (e) => String(e.uid), true],
  ['NATTCH', (e) => dash(e.nattch), true],
  ['CPID', (e) => dash(e.cpid), true],
  ['LPID', (e) => dash(e.lpid), true],
  ['CREATOR', (e) => formatCreator(e.creator)],
  ['AGE', (e) => formatAge(e.ageMs), true]
]

// What the JSON form prints: the list() entry, with errors as { code, message }.
function jsonEntry (e) {
  const copy = { ...e }
  if ('error' in copy && copy.error !== null) {
    copy.error = { code: copy.error.code || null, message: oneLine(copy.error) }
  }
  return copy
}

function printJson (value) {
  out(JSON.stringify(value, null, 2))
}

// A system error as a short reason: "permission denied" rather than the whole message.
const REASONS = {
  ENOENT: 'no such segment',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted (not the owner)',
  EISDIR: 'is a directory, not a shared memory object',
  EINVAL: 'invalid argument',
  EIDRM: 'already removed'
}

function reason (e) {
  if (e && REASONS[e.code] && e.syscall) return REASONS[e.code]
  return oneLine(e)
}

function oneLine (e) {
  const text = e && e.message ? e.message : String(e)
  return text.split('\n')[0]
}

// ---------------------------------------------------------------------------------------
// Commands

function parse (command, args, options) {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true
    })
  } catch (e) {
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const m = /'([^']+)'/.exec(e.message)
      throw new UsageError(`${command}: unknown option '${m ? m[1] : '?'}' ` +
        `(see 'shmem ${command} --help')`)
    }
    throw new UsageError(`${command}: ${oneLine(e)}`)
  }
}

function noPositionals (command, positionals) {
  if (positionals.length > 0) {
    throw new UsageError(`${command}: unexpected argument '${positionals[0]}' ` +
      `(see 'shmem ${command} --help')`)
  }
}

// A POSIX name from the command line ('x' and '/x' are one); a name that cannot be one is a
// bad command line.
function parseName (command, text) {
  try {
    return require('../lib/validate').validateName(text)
  } catch (e) {
    throw new UsageError(`${command}: '${text}' is not a valid name: ${oneLine(e)}`)
  }
}

// A System V segment as the command line names it: by key, written as `shmem ls` shows it
// (0x and eight hex digits, or fewer), or by id (a decimal number). Returns the id. A key
// names one segment, except 0x00000000 (IPC_PRIVATE), which any number of them carry.
function parseSysv (command, text) {
  if (/^0x[0-9a-f]{1,8}$/i.test(text)) {
    const key = Number.parseInt(text.slice(2), 16) | 0 // the kernel's keys are signed
    if (key === 0) {
      throw new UsageError(`${command}: key ${text} is IPC_PRIVATE, which names no one ` +
        "segment: give its id (the ID column of 'shmem ls')")
    }
    const row = lib().lifecycle.readSysvTable().find((r) => r.key === key)
    if (row === undefined) throw new Failure(`${command}: no System V segment has key ${text}`)
    return row.id
  }
  if (!/^[0-9]{1,10}$/.test(text) || Number(text) > 2147483647) {
    throw new UsageError(`${command}: '${text}' is neither a System V key (0x and hex ` +
      "digits, the NAME column of 'shmem ls') nor an id (a decimal number, the ID column)")
  }
  return Number(text)
}

function cmdLs (args) {
  const { values, positionals } = parse('ls', args,
    { json: { type: 'boolean' }, all: { type: 'boolean' } })
  if (values.help) return out(HELP.ls)
  noPositionals('ls', positionals)
  let entries = lib().list.list()
  if (!values.all) {
    const me = process.getuid()
    entries = entries.filter((e) => e.uid === me)
  }
  if (values.json) return printJson(entries)
  out(table(entries, LS_COLUMNS))
}

/** '62.5%', or '-' before any read. */
function formatRate (hits, misses) {
  const reads = hits + misses
  return reads === 0 ? '-' : `${(100 * hits / reads).toFixed(1)}%`
}

// The figures of the SharedMap in the POSIX object `name`, or null when it holds none: the
// map's own attach decides, by its magic and header (no layout is typed here). Attaching
// needs a read-write mapping; an object this user may only read shows as a plain segment.
function mapInfo (name) {
  const { open, SharedMap } = lib()
  let segment
  try {
    segment = open.open(name)
  } catch (e) {
    if (e && e.code) return null
    throw e
  }
  try {
    let map
    try {
      map = SharedMap.attach(segment, 0)
    } catch (e) {
      if (e && e.code) return null
      throw e
    }
    try {
      const st = map.stats()
      return {
        ...st,
        hitRate: st.hits + st.misses === 0 ? null : st.hits / (st.hits + st.misses),
        encoding: map.encoding,
        evict: map.evict,
        maxKeyBytes: map.maxKeyBytes,
        maxValueBytes: map.maxValueBytes,
        ttl: map.ttl
      }
    } finally {
      map.close()
    }
  } finally {
    segment.close()
  }
}

function mapLines (m) {
  return [
    ['map', `SharedMap, ${m.encoding} values, evict ${m.evict}` +
      (m.ttl ? `, ttl ${m.ttl} ms` : '')],
    ['entries', `${m.entries} of ${m.capacity}`],
    ['bytes', `${formatSize(m.bytes)} (${m.bytes} bytes) of keys and values; at most ` +
      `${m.maxKeyBytes} + ${m.maxValueBytes} per entry`],
    ['hit rate', `${formatRate(m.hits, m.misses)} (${m.hits} hits, ${m.misses} misses)`],
    ['evictions', String(m.evictions)],
    ['expirations', String(m.expirations)],
    ['recoveries', String(m.recoveries)]
  ]
}

function statLines (e) {
  const lines = [['kind', e.kind]]
  if (e.kind === 'posix') {
    lines.push(['name', printable(e.name)], ['inode', String(e.ino)])
  } else {
    lines.push(['key', `${formatKey(e.key)} (${e.key})`], ['id', String(e.id)])
  }
  lines.push(
    ['size', `${formatSize(e.size)} (${e.size} bytes)`],
    ['mode', formatMode(e.mode)],
    ['uid', String(e.uid)],
    ['gid', String(e.gid)])
  if (e.kind === 'sysv') {
    lines.push(['attached', String(e.nattch)], ['creator pid', String(e.cpid)],
      ['last pid', String(e.lpid)], ['removed', e.pendingRemoval
        ? 'yes, goes when the last process detaches'
        : 'no'])
  }
  lines.push(
    ['created', `${new Date(e.createdMs).toISOString()} (${formatAge(e.ageMs)} ago)`],
    ['autoUnlink', e.autoUnlink ? 'yes' : 'no'])
  if (e.creator !== null) {
    lines.push(['recorded by', `pid ${e.creator.pid} (start time ${e.creator.startTime}), ` +
      (e.creator.alive === true
        ? 'alive'
        : e.creator.alive === false ? 'dead' : 'cannot tell (another pid namespace)')])
  }
  if (e.map) lines.push(...mapLines(e.map))
  const width = Math.max(...lines.map(([k]) => k.length))
  return lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')
}

function cmdStat (args) {
  const { values, positionals } = parse('stat', args,
    { json: { type: 'boolean' }, sysv: { type: 'boolean' } })
  if (values.help) return out(HELP.stat)
  if (positionals.length !== 1) {
    throw new UsageError(`stat: expected one ${values.sysv ? 'id' : 'name'}, got ` +
      `${positionals.length} (see 'shmem stat --help')`)
  }
  const { list } = lib()
  let entry
  if (values.sysv) {
    const id = parseSysv('stat', positionals[0])
    entry = list.statSysvEntry(id)
    if (entry === null) throw new Failure(`stat: no System V segment has id ${id}`)
  } else {
    const name = parseName('stat', positionals[0])
    entry = list.statPosixEntry(name)
    if (entry === null) throw new Failure(`stat: ${name}: no such shared memory object`)
    const map = mapInfo(name)
    if (map !== null) entry.map = map
  }
  if (values.json) return printJson(entry)
  out(statLines(entry))
}

function cmdRm (args) {
  const { values, positionals } = parse('rm', args, { sysv: { type: 'boolean' } })
  if (values.help) return out(HELP.rm)
  if (positionals.length === 0) {
    throw new UsageError(`rm: expected ${values.sysv ? 'ids' : 'names'} to remove ` +
      "(see 'shmem rm --help')")
  }
  // Every argument is checked before anything is removed: a typo is a bad command line
  // (exit 2), not a half-done removal.
  for (const arg of positionals) {
    if (!values.sysv) parseName('rm', arg)
    else if (!/^0x/i.test(arg)) parseSysv('rm', arg)
  }
  const { open, lifecycle } = lib()
  let failed = 0
  for (const arg of positionals) {
    if (values.sysv) {
      let id
      try {
        id = parseSysv('rm', arg)
      } catch (e) {
        if (e instanceof UsageError) throw e
        err(e.message)
        failed++
        continue
      }
      try {
        if (!lifecycle.removeSysvId(id)) {
          err(`rm: cannot remove System V id ${id}: no such segment`)
          failed++
        }
      } catch (e) {
        err(`rm: cannot remove System V id ${id}: ${reason(e)}`)
        failed++
      }
    } else {
      try {
        if (!open.unlink(arg)) {
          err(`rm: cannot remove '${arg}': no such shared memory object`)
          failed++
        }
      } catch (e) {
        err(`rm: cannot remove '${arg}': ${reason(e)}`)
        failed++
      }
    }
  }
  if (failed > 0) process.exitCode = 1
}

const GC_COLUMNS = [
  ['KIND', (e) => e.kind],
  ['NAME', (e) => (e.kind === 'posix' ? printable(e.name) : formatKey(e.key))],
  ['ID', (e) => dash(e.id), true],
  ['SIZE', (e) => formatSize(e.size), true],
  ['CREATOR', (e) => formatCreator(e.creator)],
  ['AGE', (e) => formatAge(e.ageMs), true]
]

function cmdGc (args) {
  const { values, positionals } = parse('gc', args,
    { json: { type: 'boolean' }, 'dry-run': { type: 'boolean' } })
  if (values.help) return out(HELP.gc)
  noPositionals('gc', positionals)
  const dryRun = values['dry-run'] === true
  const results = lib().lifecycle.gc({ dryRun })
  const failures = results.filter((e) => e.error !== null)
  if (values.json) {
    printJson(results.map(jsonEntry))
  } else if (results.length === 0) {
    out('nothing to collect')
  } else {
    const status = ['STATUS', (e) => e.error !== null
      ? `failed: ${reason(e.error)}`
      : dryRun ? 'would remove' : (e.removed ? 'removed' : 'already gone')]
    out(table(results, [...GC_COLUMNS, status]))
  }
  for (const e of failures) {
    err(`gc: cannot remove ${e.kind === 'posix' ? `'${e.name}'` : `System V id ${e.id}`}: ` +
      reason(e.error))
  }
  if (failures.length > 0) process.exitCode = 1
}

const COMMANDS = { ls: cmdLs, stat: cmdStat, rm: cmdRm, gc: cmdGc }

function version () {
  return require(path.join(__dirname, '..', 'package.json')).version
}

function main (argv) {
  const [first, ...rest] = argv
  if (first === undefined) {
    process.stderr.write(HELP.main + '\n')
    process.exitCode = 2
    return
  }
  if (first === '-h' || first === '--help' || first === 'help') {
    if (rest.length > 0 && HELP[rest[0]]) return out(HELP[rest[0]])
    return out(HELP.main)
  }
  if (first === '-v' || first === '--version') return out(version())
  const command = COMMANDS[first]
  if (command === undefined) {
    throw new UsageError(first.startsWith('-')
      ? `unknown option '${first}' (see 'shmem --help')`
      : `unknown command '${first}' (see 'shmem --help')`)
  }
  command(rest)
}

// A reader that stops early (shmem ls | head) is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode || 0)
  throw e
})

try {
  main(process.argv.slice(2))
} catch (e) {
  if (e instanceof UsageError) {
    err(e.message)
    process.exitCode = 2
  } else if (e instanceof Failure) {
    err(e.message)
    process.exitCode = 1
  } else if (e && e.code === 'ERR_SHMEM_ADDON') {
    // The addon did not load: its message is several lines of what to run, all needed.
    err(e.message)
    process.exitCode = 1
  } else if (e && (e.syscall || (typeof e.code === 'string' && e.code.startsWith('ERR_')))) {
    // Expected failures: a system call refused (permission denied, ...), an unsafe
    // registry, an unsupported platform.
    err(oneLine(e))
    process.exitCode = 1
  } else {
    err(`internal error: ${oneLine(e)}`)
    if (process.env.SHMEM_DEBUG) process.stderr.write(`${e && e.stack}\n`)
    else process.stderr.write(`${PROGRAM}: set SHMEM_DEBUG=1 to see where\n`)
    process.exitCode = 70
  }
}
