'use strict'
// Where a Channel comes from: Channel.create() and open() (a POSIX object of its own),
// init() and attach() (anywhere in a segment the caller keeps), and byteLength(). Each checks
// its arguments and finds the memory; construct(segment, offset, byteLength, init, options,
// ownsSegment) (lib/channel.js) makes the Channel over it.

const binding = require('./binding')
const { validateInteger } = require('./validate')
const { validateChannelOptions } = require('./channel-options')
const { createNamed, openNamed, placeIn } = require('./structure')

/** Channel.byteLength(options). */
function byteLength (options) {
  const o = validateChannelOptions(options)
  return binding.channelByteLength(o.capacity, o.maxMessageSize, o.kind)
}

/** Channel.create(name, options). */
function create (construct, name, options) {
  const o = validateChannelOptions(options)
  return createNamed(construct, name, binding.channelByteLength(o.capacity, o.maxMessageSize,
    o.kind), o, options)
}

/** Channel.open(name). */
function openChannel (construct, name) {
  return openNamed(construct, name, 'channel')
}

/** Channel.init(segment, offset, byteLength, options). */
function init (construct, segment, offset, length, options) {
  offset = placeIn(segment, offset)
  length = validateInteger(length, 'byteLength', 0, segment.size - offset)
  const o = validateChannelOptions(options)
  return construct(segment, offset, length, true, o, false)
}

/** Channel.attach(segment, offset). */
function attach (construct, segment, offset) {
  offset = placeIn(segment, offset)
  return construct(segment, offset, segment.size - offset, false, null, false)
}

module.exports = { byteLength, create, open: openChannel, init, attach }
