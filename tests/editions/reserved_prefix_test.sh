#!/bin/sh
# A schema whose C names start with cpay_ (package cpay or cpay.*): the
# generator must answer (generate, or refuse with a clear error) instead of
# looking for a free name forever. Found while writing the editions interop
# schema (first package cpay.editions.interop): protoc-gen-cpay grew until
# the OOM killer stopped it (plugin/gen/names.c pick_global: base_, base__,
# ... all keep the reserved prefix cpay_; such names now start with x_).
# proto3 and editions alike; run
# here through protoc 3.21 with 1 GiB of address space and 20 s. A message
# named cpay without a package hung the same way (its cpay_table), found in
# review.
#   reserved_prefix_test.sh PROTOC PLUGIN
set -u
protoc=$1 plugin=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/cpay-reserved.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
# check NAME SCHEMA: generates SCHEMA; fails on a hang or running out of memory.
check() {
  name=$1
  rm -rf "$work/out" && mkdir "$work/out"
  printf '%b' "$2" >"$work/p.proto"
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
    echo "reserved prefix, $name: generated: $(ls "$work/out")"
  elif [ $rc -eq 124 ] || grep -q "out of memory\|killed by signal\|AddressSanitizer" "$work/log"; then
    echo "reserved prefix, $name: FAIL: the plugin ran out of time or memory (exit $rc)"
    failures=$((failures + 1))
  elif grep -q "p.proto" "$work/log" && grep -q "cpay" "$work/log"; then
    echo "reserved prefix, $name: refused with an error naming the file (exit $rc)"
  else
    echo "reserved prefix, $name: FAIL: exit $rc without a clear error"
    failures=$((failures + 1))
  fi
}
check "package cpay.x" 'syntax = "proto3";\npackage cpay.x;\nmessage Point {\n  int32 x = 1;\n}\n'
# No package, a message named cpay: its base passes, its cpay_table would not.
check "message cpay" 'syntax = "proto3";\nmessage cpay {\n  int32 x = 1;\n}\nenum CPAY {\n  CPAY_ZERO = 0;\n}\n'
[ $failures -eq 0 ]
