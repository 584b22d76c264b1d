'use strict'
// Loads the native addon with node-gyp-build: build/Release (or build/Debug) when there is a
// source build, which is what a developer working on shmem wants, else the prebuilt binary
// for this platform from prebuilds/<platform>-<arch>/ (Node-API, so one serves every Node
// line). SHMEM_PREBUILD=<dir> makes node-gyp-build look in <dir> instead of the package.

const fs = require('fs')
const path = require('path')
const { addonNotLoaded } = require('./errors')

const root = path.resolve(__dirname, '..')

// 'glibc' or 'musl' on Linux (the tag prebuildify's --tag-libc puts in the file name).
function libc () {
  if (process.platform !== 'linux') return null
  try {
    return process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl'
  } catch {
    return null
  }
}

function describe (platformArch, libcTag) {
  return libcTag ? `${platformArch} (${libcTag})` : platformArch
}

// The platforms this copy ships prebuilt binaries for: prebuilds/linux-x64/shmem.glibc.node
// is 'linux-x64 (glibc)'.
function prebuiltPlatforms (dir) {
  const found = []
  let tuples = []
  try {
    tuples = fs.readdirSync(path.join(dir, 'prebuilds')).sort()
  } catch {}
  for (const tuple of tuples) {
    let files = []
    try {
      files = fs.readdirSync(path.join(dir, 'prebuilds', tuple)).filter((f) => f.endsWith('.node'))
    } catch {}
    for (const file of files) {
      const tags = file.split('.')
      const tag = tags.find((t) => t === 'glibc' || t === 'musl')
      found.push(describe(tuple, tag))
    }
  }
  return [...new Set(found)]
}

function load () {
  try {
    return require('node-gyp-build')(root)
  } catch (cause) {
    throw addonNotLoaded(cause, {
      where: describe(`${process.platform}-${process.arch}`, libc()),
      node: process.versions.node,
      prebuilt: prebuiltPlatforms(process.env.SHMEM_PREBUILD || root)
    })
  }
}

module.exports = load()
