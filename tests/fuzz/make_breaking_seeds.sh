#!/bin/sh
# Writes the seed corpora of fuzz_breaking_lock and fuzz_breaking_descset
# (tests/fuzz/corpus/breaking_{lock,descset}/) from the evolution test cases
# and proto/payments.proto. Run from the project root after building:
#   tests/fuzz/make_breaking_seeds.sh build/plugin/breaking/cpay-breaking
# Seeds are checked in; rerun only to add seeds.
set -eu
brk=$1
lock_dir=tests/fuzz/corpus/breaking_lock
set_dir=tests/fuzz/corpus/breaking_descset
mkdir -p "$lock_dir" "$set_dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Locks: every history case recorded version by version (so deleted entries
# appear), with --force where a version breaks the previous one.
for case in tests/evolution/history-*; do
  name=${case##*/history-}
  rm -f "$tmp/lock"
  for v in "$case"/v*; do
    "$brk" --lock "$tmp/lock" --update-lock --force "$v" >/dev/null 2>&1 ||
      "$brk" --lock "$tmp/lock" --update-lock "$v" >/dev/null 2>&1 || true
  done
  [ -s "$tmp/lock" ] && cp "$tmp/lock" "$lock_dir/$name"
done
"$brk" --lock "$tmp/payments.lock" --update-lock proto/payments.proto >/dev/null
cp "$tmp/payments.lock" "$lock_dir/payments"
# Descriptor sets: payments.proto, and the new side of every pairwise case.
protoc -Iproto --include_imports --descriptor_set_out="$set_dir/payments" proto/payments.proto
for case in tests/evolution/*; do
  [ -f "$case/new.proto" ] || continue
  protoc -I"$case" --include_imports --descriptor_set_out="$set_dir/${case##*/}" new.proto
done
