'use strict'
// Writes the seed corpora of the C fuzz targets into test/fuzz/corpus/<target>/ from real
// data: channels formatted and used by the core through the public API, this process's own
// /proc/self/stat and /proc/meminfo, and link targets as /proc/self/fd shows them. Run it
// after a format change (node test/fuzz/make-seeds.js) and commit what changes. Files whose
// name starts with regress- are crash reproducers kept as regression seeds; it leaves them.
const fs = require('fs')
const path = require('path')
const shmem = require('../..')

const root = path.join(__dirname, 'corpus')

function write (target, name, bytes) {
  const dir = path.join(root, target)
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, name), bytes)
}

// fuzz_channel: 16 operation bytes, then the channel's bytes.
const OPS = [
  Buffer.from([0x00, 0x01, 0x40, 0x11, 0x02, 0x31, 0x04, 0x12, 0x06, 0x07, 0x0b, 0x01,
    0x05, 0x03, 0x08, 0x09]),
  Buffer.from([0x21, 0x22, 0x0a, 0x2a, 0x0c, 0x13, 0x01, 0x0f, 0x20, 0x01, 0x03, 0x0b,
    0x06, 0x11, 0x02, 0x07]),
  Buffer.from([0x0f, 0x10, 0x43, 0x01, 0x0f, 0x20, 0x00, 0x02, 0x0b, 0x01, 0x0d, 0x12,
    0x1e, 0x0e, 0x01, 0x01])
]

function channelSeed (name, options, use) {
  const byteLength = shmem.Channel.byteLength(options)
  const segment = shmem.memfd(byteLength)
  const channel = shmem.Channel.init(segment, 0, byteLength, options)
  try {
    use(channel)
    const bytes = Buffer.from(segment.buffer.subarray(0, byteLength))
    OPS.forEach((ops, i) => write('fuzz_channel', `${name}-${i}`, Buffer.concat([ops, bytes])))
  } finally {
    channel.close()
    segment.close()
  }
}

const msg = (n, fill) => Buffer.alloc(n, fill)
for (const kind of ['spsc', 'mpsc', 'mpmc']) {
  channelSeed(`${kind}-empty`, { kind, capacity: 64 }, () => {})
  channelSeed(`${kind}-three`, { kind, capacity: 256 }, (c) => {
    c.send(msg(5, 1)); c.send(msg(0, 0)); c.send(msg(40, 3))
  })
  // Sent and received past the end of the ring, so that a skip record sits at the wrap.
  channelSeed(`${kind}-wrapped`, { kind, capacity: 128, maxMessageSize: 48 }, (c) => {
    for (let i = 0; i < 5; i++) { c.send(msg(30, i)); c.receive() }
    c.send(msg(40, 9)); c.send(msg(7, 8))
  })
}
// A reservation in progress: RESERVED records carry the reserver's pid and start time.
for (const kind of ['mpsc', 'mpmc']) {
  const options = { kind, capacity: 256 }
  const byteLength = shmem.Channel.byteLength(options)
  const segment = shmem.memfd(byteLength)
  const channel = shmem.Channel.init(segment, 0, byteLength, options)
  channel.send(msg(9, 2))
  channel.reserve(20).fill(7)
  const bytes = Buffer.from(segment.buffer.subarray(0, byteLength))
  OPS.forEach((ops, i) => write('fuzz_channel', `${kind}-reserved-${i}`, Buffer.concat([ops, bytes])))
  channel.abort()
  channel.close()
  segment.close()
}

// fuzz_proc: a selector byte (0 stat, 1 meminfo, 2 fd link, 3 loadavg), then the text.
const proc = (sel, name, text) => write('fuzz_proc', name, Buffer.concat([Buffer.from([sel]),
  Buffer.from(text, 'latin1')]))
const stat = fs.readFileSync('/proc/self/stat', 'latin1')
proc(0, 'stat-self', stat)
// A command name with spaces and parentheses, and a zombie.
proc(0, 'stat-odd-comm', stat.replace(/\(.*\)/, '(a) (b c))').replace(/\) [A-Z] /, ') Z '))
proc(1, 'meminfo', fs.readFileSync('/proc/meminfo', 'latin1'))
proc(2, 'link-memfd', '/memfd:shmem (deleted)')
proc(2, 'link-posix', '/dev/shm/some-name')
proc(2, 'link-file', '/tmp/data.bin')
proc(3, 'loadavg', '0.52 0.95 1.04 3/250 1234\n')

// fuzz_lock: {u64 word = start << 32 | pid, u32 flags} items.
const items = []
const item = (pid, start, flags) => {
  const b = Buffer.alloc(12)
  b.writeUInt32LE(pid >>> 0, 0); b.writeUInt32LE(start >>> 0, 4); b.writeUInt32LE(flags, 8)
  items.push(b)
}
const selfStart = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) >>> 0
item(process.pid, selfStart, 0) // this process, alive while the seed is made
item(1, 0, 2) // init
item(0, 0, 0)
item(0x7fffffff, 5, 6) // no such pid
item(process.pid, selfStart + 1, 1) // our pid with another start: an earlier process
write('fuzz_lock', 'words', Buffer.concat(items))
console.log(`seeds written under ${path.relative(process.cwd(), root)}`)

// fuzz_shared_map: 16 operation bytes, then the map's bytes (maps made through SharedMap).
const MAP_OPS = [
  Buffer.from([0x00, 0x13, 0x25, 0x06, 0x07, 0x10, 0x34, 0x0e, 0x12, 0x45, 0x0d, 0x03, 0x0a,
    0x33, 0x0b, 0x08]),
  Buffer.from([0x0d, 0x03, 0x00, 0x15, 0x27, 0x09, 0x0c, 0x44, 0x02, 0x0f, 0x16, 0x07, 0x01,
    0x0b, 0x1a, 0x05])
]
function mapSeed (name, options, use) {
  const byteLength = shmem.SharedMap.byteLength(options)
  const segment = shmem.memfd(byteLength)
  const map = shmem.SharedMap.init(segment, 0, byteLength, options)
  try {
    use(map)
    const bytes = Buffer.from(segment.buffer.subarray(0, byteLength))
    MAP_OPS.forEach((ops, i) => write('fuzz_shared_map', `${name}-${i}`, Buffer.concat([ops, bytes])))
  } finally {
    map.close()
    segment.close()
  }
}
mapSeed('empty', { capacity: 4, maxKeyBytes: 4, maxValueBytes: 16 }, () => {})
mapSeed('some', { capacity: 8, maxKeyBytes: 4, maxValueBytes: 16, encoding: 'utf8' }, (m) => {
  for (const k of ['a', 'b', 'c', 'd', 'e']) m.set(k, k.repeat(3), k === 'c' ? { ttl: 1 } : undefined)
  m.delete('b')
  m.increment('n', 7)
})
mapSeed('full', { capacity: 4, maxKeyBytes: 4, maxValueBytes: 8, evict: 'none',
  encoding: 'buffer' }, (m) => {
  for (const k of ['a', 'b', 'c', 'd']) m.set(k, Buffer.from(k))
})
