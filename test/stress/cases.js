'use strict'
// Every stress case, what each must satisfy, and the report table.

const cases = [
  ...require('./cases/locks'),
  ...require('./cases/channels'),
  ...require('./cases/create'),
  ...require('./cases/map')
]

// What the stress suite asserts for a case: the promises only (see each case's header).
// Returns the list of broken ones.
function check (r) {
  const out = []
  if (r.duplicated !== 0) out.push(`${r.duplicated} duplicated`)
  if (r.hung !== 0) out.push(`${r.hung} hung: ${r.hangs.join(' | ')}`)
  if (r.corrupt !== 0) out.push(`${r.corrupt} corrupt`)
  if (r.reordered !== 0) out.push(`${r.reordered} reordered`)
  if (r.phantom !== 0) out.push(`${r.phantom} phantom`)
  if (r.overlap !== 0) out.push(`${r.overlap} overlapping lock holders`)
  if (r.errors !== 0) out.push(`${r.errors} worker errors: ${r.stderr.join(' | ')}`)
  if (r.lostUnexplained) out.push(`${r.lostUnexplained} lost messages no dead receiver explains`)
  if (r.badOpen) out.push(`${r.badOpen} opens of a killed create gave no coded error`)
  if (r.error) out.push(`engine error: ${r.error}`)
  return out
}

function fmt (x) {
  if (x === null || x === undefined) return '-'
  if (typeof x === 'number' && !Number.isInteger(x)) return x.toFixed(1)
  return String(x)
}

const COLUMNS = [
  ['case', 'case'], ['rounds', 'rounds'], ['kills', 'kill'], ['stops', 'stop'],
  ['messages', 'messages/ops'], ['lost', 'lost'], ['duplicated', 'dup'], ['hung', 'hung'],
  ['recoverP50', 'recover p50 ms'], ['recoverMax', 'max ms'], ['wallMs', 'wall s']
]

function formatTable (reports, { header = true } = {}) {
  const rows = reports.map((r) => COLUMNS.map(([k]) => k === 'wallMs' ? (r.wallMs / 1000).toFixed(1) : fmt(r[k])))
  const widths = COLUMNS.map(([, h], i) => Math.max(h.length, 10, ...rows.map((row) => row[i].length)))
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  const out = []
  if (header) out.push(line(COLUMNS.map(([, h]) => h)))
  for (const row of rows) out.push(line(row))
  return out.join('\n')
}

module.exports = { cases, check, formatTable }
