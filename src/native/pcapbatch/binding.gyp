{
  "targets": [
    {
      "target_name": "pcapbatch",
      "sources": ["pcapbatch.c"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-lpcap"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    }
  ]
}
