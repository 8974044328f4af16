#!/bin/sh
# `npm start`'s command. glibc's malloc serves a block below its mmap
# threshold from a per-thread arena and rarely gives it back; its default
# threshold rises to the size of the largest block freed, up to 32 MiB. Each
# Argon2id hash takes a 19 MiB block on one of libuv's pool threads, so after
# a few logins every pool thread's arena holds 19 MiB it never returns (idle
# RSS 120 → ~200 MiB over six logins). A fixed 128 KiB threshold (which
# also turns the dynamic one off) maps such blocks and unmaps them when
# freed: ~118 MiB after the same logins. Other allocators ignore the
# variable. `exec` keeps one process (its pid is the platform's); $NODE
# names another node binary.
MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-131072} exec "${NODE:-node}" "$(dirname "$0")/start.mjs" "$@"
