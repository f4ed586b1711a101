#!/bin/sh
# Builds editions.binpb, the FileDescriptorSet of the v36.0 conformance
# suite's editions schemas, from ../shared/conformance/v36 with buf 1.75.0
# (npm's @bufbuild/buf, installed by tools/npm-tool): protoc 3.21 cannot
# parse editions, so the testee is generated from this set by
# `protoc-gen-cpay --descriptor-set` (tests/conformance/meson.build).
#
#   editions_set.sh V36_DIR OUT       writes the set to OUT
#   editions_set.sh V36_DIR --check SET
#                                     fails unless SET is what buf builds now
#                                     (exit 77, skipped, when buf cannot be had)
#
# The files are copied flat, so the generated names are flat too. The
# suite's TestAllTypesEditionUnstable is written in edition "UNSTABLE", which
# buf cannot parse (protoc 36 only with --experimental_editions), so it is
# compiled as edition 2024, rewritten the way protoc 36 reads it: in
# EDITION_UNSTABLE the type words int32, int64, uint32 and uint64 mean
# sfixed32, sfixed64, fixed32 and fixed64 (and varint32 ... zigzag64 the
# varint types), and descriptor.proto keys no feature default to
# EDITION_UNSTABLE, so features resolve as 2024's. The resulting descriptor
# is protoc 36's for the original but for its `edition` field (checked with
# a protoc 36 built in a session: docs/testing.md).
set -eu
v36=$1
shift
buf_version=1.75.0
buf_cache=${CPAY_BUF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cpay/buf-$buf_version}
here=$(cd "$(dirname "$0")" && pwd)
"$here/../../../tools/npm-tool" conformance-v36-set @bufbuild/buf "$buf_version" "$buf_cache" \
  || exit $?
buf=$buf_cache/node_modules/.bin/buf

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$v36/editions/golden/test_messages_proto2_editions.proto" \
   "$v36/editions/golden/test_messages_proto3_editions.proto" \
   "$v36/conformance/test_protos/test_messages_edition2023.proto" "$tmp/"
sed -e 's/^edition = "UNSTABLE";$/edition = "2024";/' \
    -e 's/\bint32\b/sfixed32/g; s/\bint64\b/sfixed64/g' \
    -e 's/\buint32\b/fixed32/g; s/\buint64\b/fixed64/g' \
    -e 's/\bvarint32\b/int32/g; s/\bvarint64\b/int64/g' \
    -e 's/\buvarint32\b/uint32/g; s/\buvarint64\b/uint64/g' \
    -e 's/\bzigzag32\b/sint32/g; s/\bzigzag64\b/sint64/g' \
  "$v36/conformance/test_protos/test_messages_edition_unstable.proto" \
  >"$tmp/test_messages_edition_unstable.proto"
grep -q '^edition = "2024";$' "$tmp/test_messages_edition_unstable.proto"
printf 'version: v2\n' >"$tmp/buf.yaml"
(cd "$tmp" && "$buf" build --exclude-imports --exclude-source-info -o set.binpb)

if [ "${1:-}" = --check ]; then
  if cmp -s "$tmp/set.binpb" "$2"; then
    echo "ok - $2 is what buf $buf_version builds from $v36"
    exit 0
  fi
  echo "not ok - $2 differs from what buf $buf_version builds from $v36;" \
       "rebuild it: $0 $v36 $2" >&2
  exit 1
fi
cp "$tmp/set.binpb" "$1"
