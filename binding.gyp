{
  "targets": [
    {
      "target_name": "shmem",
      "sources": [
        "src/channel.c",
        "src/channel_lock.c",
        "src/channel_wait.c",
        "src/error.c",
        "src/lock.c",
        "src/futex.c",
        "src/memory.c",
        "src/segment.c",
        "src/sysv.c",
        "src/napi/binding.c",
        "src/napi/channel.c",
        "src/napi/channel_handles.c",
        "src/napi/constants.c",
        "src/napi/segment.c",
        "src/napi/util.c",
        "src/napi/wait.c"
      ],
      "include_dirs": ["include"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "cflags!": ["-fno-exceptions"],
      "conditions": [
        ["OS=='linux'", { "libraries": ["-lrt", "-lpthread"] }],
        ["OS=='mac'", {
          "xcode_settings": {
            "OTHER_CFLAGS": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
          }
        }]
      ]
    }
  ]
}
