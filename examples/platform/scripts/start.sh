#!/bin/sh
# `npm start`'s command.
#
# MALLOC_MMAP_THRESHOLD_: glibc's malloc serves a block below its mmap
# threshold from a per-thread arena and rarely gives it back; its default
# threshold rises to the size of the largest block freed, up to 32 MiB. Each
# Argon2id hash takes a 19 MiB block on one of libuv's pool threads, so after
# a few logins every pool thread's arena holds 19 MiB it never returns (idle
# RSS 120 → ~200 MiB over six logins). A fixed 128 KiB threshold (which
# also turns the dynamic one off) maps such blocks and unmaps them when
# freed: ~115 MiB after the same logins. Other allocators ignore it.
#
# --max-old-space-size: V8 sizes its old generation from the machine's memory
# and lets garbage pile up before a full collection: under a steady 1,200
# req/s the heap grew to 168–211 MiB (RSS 260–316 MiB) while what it retained
# after a full collection stayed ~35 MiB. With a 256 MiB limit V8 collects
# sooner, at no measured cost in throughput (heap 84 MiB, RSS 193 MiB, same
# rate). It is also a bound: a process that really needs more fails with an
# out-of-memory error instead of growing without limit; raise it with
# PROVISIONING_MAX_HEAP_MIB.
#
# `exec` keeps one process (its pid is the platform's); $NODE names another
# node binary.
MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-131072} exec "${NODE:-node}" \
  --max-old-space-size="${PROVISIONING_MAX_HEAP_MIB:-256}" "$(dirname "$0")/start.mjs" "$@"
