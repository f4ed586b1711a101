#!/bin/sh
# A schema whose C names start with cpay_ (package cpay or cpay.*): the
# generator must answer (generate, or refuse with a clear error) instead of
# looking for a free name forever. Found while writing the editions interop
# schema (first package cpay.editions.interop): protoc-gen-cpay grew until
# the OOM killer stopped it (plugin/gen/names.c pick_global: base_, base__,
# ... all keep the reserved prefix cpay_; such names now start with x_).
# proto3 and editions alike; run
# here through protoc 3.21 with 1 GiB of address space and 20 s.
#   reserved_prefix_test.sh PROTOC PLUGIN
set -u
protoc=$1 plugin=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/cpay-reserved.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/out"
printf 'syntax = "proto3";\npackage cpay.x;\nmessage Point {\n  int32 x = 1;\n}\n' >"$work/p.proto"
(
  # AddressSanitizer reserves terabytes of address space for its shadow:
  # under it, its own RSS limit stands in for ulimit -v.
  if grep -q __asan_init "$plugin" 2>/dev/null; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:hard_rss_limit_mb=1024"
  else
    ulimit -v 1048576
  fi
  exec timeout 20 "$protoc" --plugin=protoc-gen-cpay="$plugin" --cpay_out="$work/out" \
    -I"$work" "$work/p.proto"
) >"$work/log" 2>&1
rc=$?
cat "$work/log"
if [ $rc -eq 0 ]; then
  echo "reserved prefix: generated: $(ls "$work/out")"
  exit 0
fi
if [ $rc -eq 124 ] || grep -q "out of memory\|killed by signal\|AddressSanitizer" "$work/log"; then
  echo "reserved prefix: FAIL: package cpay.x: the plugin ran out of time or memory (exit $rc)"
  exit 1
fi
if grep -q "p.proto" "$work/log" && grep -q "cpay" "$work/log"; then
  echo "reserved prefix: refused with an error naming the file (exit $rc)"
  exit 0
fi
echo "reserved prefix: FAIL: exit $rc without a clear error"
exit 1
