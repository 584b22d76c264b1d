{
  "variables": {
    # 1: an AddressSanitizer + UBSan build, for `npm run test:sanitize` (scripts/sanitize.js),
    # which builds it in build-sanitize/ with -Dshmem_sanitize=1. Never set for a release.
    "shmem_sanitize%": 0
  },
  "targets": [
    {
      "target_name": "shmem",
      "sources": [
        "src/channel.c",
        "src/channel_lock.c",
        "src/channel_wait.c",
        "src/error.c",
        "src/lock.c",
        "src/proc.c",
        "src/futex.c",
        "src/memory.c",
        "src/segment.c",
        "src/shared_map.c",
        "src/shared_map_lock.c",
        "src/shared_map_write.c",
        "src/sysv.c",
        "src/napi/binding.c",
        "src/napi/channel.c",
        "src/napi/channel_handles.c",
        "src/napi/constants.c",
        "src/napi/errors.c",
        "src/napi/memory.c",
        "src/napi/proc.c",
        "src/napi/segment.c",
        "src/napi/shared_map.c",
        "src/napi/util.c",
        "src/napi/wait.c"
      ],
      "include_dirs": ["include"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "cflags!": ["-fno-exceptions"],
      "conditions": [
        ["OS=='linux'", { "libraries": ["-lrt", "-lpthread", "-ldl"] }],
        ["shmem_sanitize==1", {
          "cflags": ["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                     "-fno-omit-frame-pointer", "-g"],
          "ldflags": ["-fsanitize=address,undefined"]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "OTHER_CFLAGS": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
          }
        }]
      ]
    }
  ]
}
