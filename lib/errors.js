'use strict'
// Errors with Node's codes and message shapes (ERR_INVALID_ARG_TYPE and friends), and the
// package's own codes (ERR_SHMEM_*). Each is a plain Error, TypeError or RangeError with a
// `code` property, as Node's own are.

const { inspect, types: { isProxy } } = require('util')

// inspect() that cannot throw: a value that breaks it (a getter that throws on a fake typed
// array, say) is shown by its tag. An error about a bad argument must not itself fail.
function show (value, options) {
  try {
    return inspect(value, options)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

// How Node describes a received value in ERR_INVALID_ARG_TYPE. A Proxy is named as one and
// not looked into: its traps (or its revocation) would run, and throw, here.
function describe (value) {
  if (value == null) return `Received ${value}`
  if (isProxy(value)) return 'Received an instance of Proxy'
  if (typeof value === 'function') {
    let name
    try {
      name = value.name
    } catch {}
    return `Received function ${typeof name === 'string' && name ? name : '<anonymous>'}`
  }
  if (typeof value === 'object') {
    let name
    try {
      name = value.constructor && value.constructor.name
    } catch {}
    if (typeof name === 'string' && name) return `Received an instance of ${name}`
    return `Received ${show(value, { depth: -1 })}`
  }
  let shown = show(value, { colors: false })
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`
  return `Received type ${typeof value} (${shown})`
}

// The registry: every code this package's JavaScript throws, with its class and its message,
// written once here (as Node's lib/internal/errors.js does with E()). A throw site names the
// code and passes the message's arguments: `throw makeError('ERR_SHMEM_NOT_OWNER', 'mutex')`.
// The codes the native addon throws have their own table, in src/napi/errors.c.
const registry = new Map()

function E (code, Base, message) {
  registry.set(code, { Base, message })
}

function argWhat (name) {
  return name.includes('.') ? 'property' : 'argument'
}

function shownValue (value) {
  return typeof value === 'number' || typeof value === 'bigint'
    ? String(value)
    : isProxy(value) ? 'Proxy' : show(value)
}

// Node's own codes, with Node's wording.
E('ERR_INVALID_ARG_TYPE', TypeError, (name, expected, value) =>
  `The "${name}" ${argWhat(name)} must be ${expected}. ${describe(value)}`)
E('ERR_INVALID_ARG_VALUE', TypeError, (name, value, reason = 'is invalid') => {
  let shown = isProxy(value) ? 'Proxy' : show(value)
  if (shown.length > 128) shown = `${shown.slice(0, 128)}...`
  return `The ${argWhat(name)} '${name}' ${reason}. Received ${shown}`
})
E('ERR_OUT_OF_RANGE', RangeError, (name, range, value, hint) =>
  `The value of "${name}" is out of range. It must be ${range}. Received ${shownValue(value)}` +
  (hint ? `. ${hint}` : ''))
E('ERR_MISSING_ARGS', TypeError, (name) => `The "${name}" argument must be specified`)
E('ERR_INVALID_STATE', Error, (message) => `Invalid state: ${message}`)
E('ERR_INVALID_THIS', TypeError, (type) => `Value of "this" must be of type ${type}`)
E('ERR_ILLEGAL_CONSTRUCTOR', TypeError, (what, factories) =>
  `${what} cannot be constructed directly: use ${factories}`)
// The package's own codes.
E('ERR_SHMEM_CLOSED', Error, (what = 'The segment') => `${what} is closed`)
E('ERR_SHMEM_UNSUPPORTED', Error, (message) => message)
E('ERR_SHMEM_BAD_STATE', Error, (subject, detail) =>
  `${subject} failed validation: ${detail}`)
E('ERR_SHMEM_WOULD_DEADLOCK', Error, (held, advice) =>
  `${held}: waiting for it without a timeout would block this thread for good (${advice})`)
E('ERR_SHMEM_NOT_OWNER', Error, (message) => message)
E('ERR_SHMEM_TIMED_OUT', Error, (what) => `Timed out waiting for the ${what}`)
E('ERR_SHMEM_LOCK_PENDING', Error, (where) => `A lockAsync() on ${where} is still waiting`)
E('ERR_SHMEM_NO_HUGEPAGES', Error, () => 'This system has no huge pages')
E('ERR_SHMEM_ADDON', Error, (message) => message)
E('ERR_SHMEM_UNSAFE_REGISTRY', Error, (dir, why) =>
  `The registry directory ${dir} ${why}: creator records are not used`)
// SharedMap (lib/shared-map.js); the binding throws the same (src/napi/errors.h).
E('ERR_SHMEM_FULL', Error, (capacity) => `The map is full (${capacity} entries) and may not ` +
  "evict (evict: 'none'): delete keys or make a larger map")
E('ERR_SHMEM_NOT_INTEGER', Error, () =>
  'The value of the key is not a decimal integer: increment() counts only integers')
// Added with the conversion of lib/segment.js, lib/open.js and compat/*.js.
// A system error raised in JavaScript (compat/mmap-io.js refuses a writable mapping of a
// read-only fd as mmap(2) would), worded as the binding words errno errors.
E('EACCES', Error, (syscall, path) => `EACCES: permission denied, ${syscall} '${path}'`)

/** The error registered for code, its message made from args; the stack starts at the caller. */
function makeError (code, ...args) {
  const entry = registry.get(code)
  if (entry === undefined) throw new Error(`shmem: no error registered as ${code}`)
  const err = new entry.Base(entry.message(...args))
  err.code = code
  Error.captureStackTrace(err, makeError)
  return err
}

function invalidArgType (name, expected, value) {
  return makeError('ERR_INVALID_ARG_TYPE', name, expected, value)
}

function invalidArgValue (name, value, reason = 'is invalid', Base = TypeError) {
  const err = makeError('ERR_INVALID_ARG_VALUE', name, value, reason)
  if (Base === TypeError) return err
  // Node throws some ERR_INVALID_ARG_VALUE as RangeError; the message is the same.
  const other = new Base(err.message)
  other.code = err.code
  Error.captureStackTrace(other, invalidArgValue)
  return other
}

function outOfRange (name, range, value, hint) {
  return makeError('ERR_OUT_OF_RANGE', name, range, value, hint)
}

function closedError (what) {
  return makeError('ERR_SHMEM_CLOSED', what ? `The segment ${what}` : undefined)
}

function unsupported (message) {
  return makeError('ERR_SHMEM_UNSUPPORTED', message)
}

// ERR_SHMEM_ADDON: what to run when the native addon does not load. `where` describes this
// machine ('linux-x64 (glibc)'); `prebuilt` lists the platforms this copy of the package has
// prebuilt binaries for, in the same form. The message is the whole answer, so it names the
// commands for npm and pnpm and the system packages a source build needs; it does not start
// with 'shmem:', because the command-line tool puts its own name in front of every error.
function addonNotLoaded (cause, { where, node, prebuilt }) {
  const reason = cause && cause.message ? cause.message.trim().split('\n')[0] : String(cause)
  const shipped = prebuilt.length
    ? [`This copy of shmem has prebuilt binaries for ${prebuilt.join(', ')};`,
        'on other platforms it is built from source when it is installed.']
    : ['This copy of shmem has no prebuilt binaries (a clone of the repository has none);',
        'it is built from source when it is installed.']
  const message = [
    `Cannot load the native addon of shmem on ${where}, Node.js ${node}:`,
    `  ${reason}`,
    ...shipped,
    'To build it from source, run in the project that depends on shmem:',
    '  npm:  npm rebuild shmem',
    '        (with ignore-scripts=true in .npmrc: npm rebuild shmem --ignore-scripts=false;',
    '        if npm says shmem is not covered by allowScripts, first:',
    '        npm install-scripts approve shmem)',
    '  pnpm: pnpm approve-builds  (pnpm 10 runs no dependency\'s install script until it is',
    '        approved: choose shmem; if it is approved already: pnpm rebuild shmem)',
    '  in a clone of shmem itself: npm run build',
    'Building needs a C compiler, make, g++ and Python 3 (for node-gyp); on Debian or Ubuntu:',
    '  sudo apt-get install build-essential python3'
  ].join('\n')
  const err = makeError('ERR_SHMEM_ADDON', message)
  Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true })
  return err
}

module.exports = {
  makeError,
  invalidArgType,
  invalidArgValue,
  outOfRange,
  closedError,
  unsupported,
  addonNotLoaded
}
