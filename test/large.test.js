'use strict'
// 64-bit sizes and offsets: an 8 GiB sparse segment, reached through view() windows near its
// end, from this process and from another one. Only a few pages are ever touched.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const { constants: { MAX_LENGTH } } = require('buffer')
const { shmem, uniqueName, trackPosix, cleanup, runSnippet, tempDir } = require('./helpers')

after(cleanup)

const GiB = 1024 ** 3
const SIZE = 8 * GiB

test('an 8 GiB sparse segment is written and read through windows near its end', async () => {
  const name = trackPosix(uniqueName('8g'))
  const seg = shmem.create(name, SIZE)
  try {
    assert.equal(seg.size, SIZE)
    assert.equal(seg.stat().size, SIZE)
    if (SIZE > MAX_LENGTH) {
      assert.throws(() => seg.buffer, { code: 'ERR_OUT_OF_RANGE', message: /view\(/ })
      assert.throws(() => seg.arrayBuffer, { code: 'ERR_OUT_OF_RANGE', message: /view\(/ })
      // With no length, a view is the window from byteOffset that one view may hold.
      const first = seg.view(Int32Array)
      assert.equal(first.length, Math.floor(MAX_LENGTH / 4))
      assert.equal(Atomics.add(first, 0, 1), 0)
      assert.equal(seg.view(Uint8Array, GiB).length, Math.min(MAX_LENGTH, SIZE - GiB))
      assert.throws(() => seg.view(Uint8Array, 0, MAX_LENGTH + 1), { code: 'ERR_OUT_OF_RANGE' },
        'an explicit length past what one view may hold')
    }
    const last = seg.view(Uint8Array, SIZE - 4096, 4096)
    last[4095] = 0xab
    const f64 = seg.view(Float64Array, SIZE - 16, 2)
    f64[0] = Math.PI
    const mid = seg.view(BigUint64Array, 6 * GiB + 8, 1)
    mid[0] = 0x0123456789abcdefn
    const dv = seg.view(DataView, 5 * GiB - 2, 4)
    dv.setUint32(0, 0xcafebabe) // straddles the 5 GiB boundary
    const buf = seg.view(Buffer, 4 * GiB + 100, 11)
    buf.write('past 4 GiB!')

    // Fresh windows over the same bytes see the writes.
    assert.equal(seg.view(Uint8Array, SIZE - 1, 1)[0], 0xab)
    assert.equal(seg.view(Float64Array, SIZE - 16, 1)[0], Math.PI)
    assert.equal(seg.view(DataView, 5 * GiB - 2).getUint32(0), 0xcafebabe)
    assert.equal(seg.view(Buffer, 4 * GiB + 100, 11).toString(), 'past 4 GiB!')

    const res = seg.residency({ offset: SIZE - 8192 })
    assert.deepEqual(res, { residentPages: 1, totalPages: 2 })
    seg.advise('dontneed', SIZE - 8192)
    assert.ok(seg.stat().allocated < 64 * 1024 * 1024, 'the object stays sparse')

    // Another process opens it and reads the same bytes near the end.
    const r = await runSnippet(`
      const s = shmem.open(${JSON.stringify(name)})
      assert.equal(s.size, ${SIZE})
      const out = {
        last: s.view(Uint8Array, ${SIZE - 1}, 1)[0],
        pi: s.view(Float64Array, ${SIZE - 16}, 1)[0],
        mid: s.view(BigUint64Array, ${6 * GiB + 8}, 1)[0].toString(16),
        text: s.view(Buffer, ${4 * GiB + 100}, 11).toString()
      }
      s.view(Int32Array, ${SIZE - 8}, 1)[0] = -42
      s.close()
      console.log(JSON.stringify(out))
    `)
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout),
      { last: 0xab, pi: Math.PI, mid: '123456789abcdef', text: 'past 4 GiB!' })
    assert.equal(seg.view(Int32Array, SIZE - 8, 1)[0], -42)
  } finally {
    seg.close()
    seg.unlink()
  }
})

test('a file mapped at an offset past 4 GiB', () => {
  const file = require('path').join(tempDir(), 'sparse.bin')
  const offset = 5 * GiB + 123
  const seg = shmem.mapFile(file, { offset, size: 4096, create: true })
  assert.equal(seg.size, 4096)
  seg.buffer.write('far away')
  seg.sync()
  seg.close()
  const fd = require('fs').openSync(file, 'r')
  const back = Buffer.alloc(8)
  require('fs').readSync(fd, back, 0, 8, offset)
  require('fs').closeSync(fd)
  assert.equal(back.toString(), 'far away')
  const again = shmem.mapFile(file, { offset })
  assert.equal(again.size, 4096, 'the default size runs from the offset to the end')
  assert.equal(again.buffer.toString('utf8', 0, 8), 'far away')
  again.close()
})
