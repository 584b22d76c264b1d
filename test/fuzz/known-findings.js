'use strict'
// The API fuzzer's known findings, shared by test/fuzz-api.test.js and scripts/fuzz.js.
// What the fuzzer finds and the project accepts, each with its reason; anything that matches
// none fails the test. The findings it made were fixed (docs/fuzzing.md, Findings).
const KNOWN = [
  {
    defect: 'by design, as in Node: a getter or method of Segment.prototype run on an object ' +
      'that is not a Segment (here an options object made with Object.create(' +
      "Segment.prototype)) throws V8's incompatible-receiver TypeError, as Node's own " +
      "classes' methods do (Buffer.prototype.readUInt8.call({})). Arguments that must be a " +
      'Segment are brand-checked (isSegment), so a fake one is ERR_INVALID_ARG_TYPE.',
    match: (f) => /Cannot read private member/.test(f.message) &&
      f.stack.length > 0 && /at get \w+ .*lib\/segment\.js/.test(f.stack[0])
  }
]

module.exports = { KNOWN }
