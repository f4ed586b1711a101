#!/bin/sh
# Test driver for the shim: runs cpay-model-dump over the test schema loaded
# three ways and over broken schemas, and compares with tests/shim/expected/.
#
#   check.sh CASE DUMP PROTOC SRCDIR
#
# CASE is one of protos, protos-disk-path, descriptor-set, request,
# syntax-error, unknown-type, missing-import, truncated-set, malformed-request,
# editions-features, editions-request, editions-errors, editions-parser, or
# update, which
# rewrites the expected files from the current shim (review the diff before
# committing; `meson compile -C BUILD update-shim-expected`).
#
# The editions cases: editions/protos compiled by buf (npm's @bufbuild/buf,
# installed by tools/npm-tool; exit 77, skipped, when it cannot be) into a
# FileDescriptorSet and into a CodeGeneratorRequest, whose resolved features
# (cpay-model-dump --features) must be expected/editions_features.txt and
# editions_request.txt; and hand-written invalid editions descriptors
# (editions/bad/*.txtpb, encoded by protoc with editions/wire.proto), each of
# which must fail with its line of expected/editions_errors.txt.
set -eu

case_name=$1
dump=$2
protoc=$3
src=$4
protos=$src/protos
expected=$src/expected
files="shimtest/types3.proto shimtest/types2.proto"
buf_version=1.75.0
buf_cache=${CPAY_BUF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cpay/buf-$buf_version}
buf=$buf_cache/node_modules/.bin/buf
ed_protos=$(cd "$src/editions/protos" && pwd)  # buf runs elsewhere

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# The model minus the pool.* lines, which differ between loaders.
body() {
  grep -v '^pool\.' "$1" || true
}

dump_protos() {
  # shellcheck disable=SC2086
  "$dump" -I "$protos" $files
}

make_set() {
  # shellcheck disable=SC2086
  (cd "$protos" && "$protoc" -I . --descriptor_set_out="$tmp/set.pb" --include_imports \
    --include_source_info $files)
}

# protoc writes the CodeGeneratorRequest to a plugin; this one saves it and
# answers with a response that only declares proto3 optional support
# (supported_features = 1: bytes 0x10 0x01).
make_request() {
  cat > "$tmp/protoc-gen-savereq" <<EOF
#!/bin/sh
cat > "$tmp/request.pb"
printf '\\020\\001'
EOF
  chmod +x "$tmp/protoc-gen-savereq"
  # shellcheck disable=SC2086
  (cd "$protos" && "$protoc" -I . --plugin=protoc-gen-savereq="$tmp/protoc-gen-savereq" \
    --savereq_out=some_param=1:"$tmp" $files)
}

# Runs the dump on a bad input: it must fail cleanly (exit 1, no signal) with
# the expected error text on stderr.
expect_error() {
  name=$1
  shift
  set +e
  "$dump" "$@" > "$tmp/out" 2> "$tmp/err"
  rc=$?
  set -e
  [ "$rc" -eq 1 ] || fail "$name: exit status $rc, want 1"
  [ ! -s "$tmp/out" ] || fail "$name: output on failure"
  diff -u "$expected/$name.txt" "$tmp/err" || fail "$name: errors differ"
}

need_buf() {
  "$src/../../tools/npm-tool" "shim $case_name" @bufbuild/buf "$buf_version" "$buf_cache" || exit $?
}

# buf build of editions/protos: a FileDescriptorSet of all its files.
make_editions_set() {
  BUF_CACHE_DIR="$tmp/bufcache" "$buf" build "$ed_protos" -o "$tmp/editions.binpb"
}

# buf generate over editions/protos with a plugin that saves the request and
# answers with a response that declares editions 2023 to 2024.
make_editions_request() {
  cat > "$tmp/protoc-gen-savereq" <<EOF
#!/bin/sh
cat > "$tmp/edrequest.pb"
printf '\\020\\003\\030\\350\\007\\040\\351\\007'
EOF
  chmod +x "$tmp/protoc-gen-savereq"
  cat > "$tmp/buf.gen.yaml" <<EOF
version: v2
plugins:
  - local: $tmp/protoc-gen-savereq
    out: $tmp/bufout
    strategy: all
EOF
  (cd "$tmp" && BUF_CACHE_DIR="$tmp/bufcache" "$buf" generate "$ed_protos" --template buf.gen.yaml)
}

# Every hand-written bad descriptor: "name: error" lines.
editions_errors() {
  for t in "$src"/editions/bad/*.txtpb; do
    name=$(basename "$t" .txtpb)
    "$protoc" -I "$src/editions" --encode=cpaytest.wire.FileDescriptorSet wire.proto \
      < "$t" > "$tmp/$name.pb" || fail "$name: protoc --encode failed"
    set +e
    "$dump" --descriptor-set "$tmp/$name.pb" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    set -e
    [ "$rc" -eq 1 ] || fail "$name: exit status $rc, want 1"
    [ ! -s "$tmp/out" ] || fail "$name: output on failure"
    printf '%s: %s\n' "$name" "$(cat "$tmp/err")"
  done
}

case $case_name in
editions-features)
  need_buf
  make_editions_set
  "$dump" --features --descriptor-set "$tmp/editions.binpb" > "$tmp/features.txt"
  diff -u "$expected/editions_features.txt" "$tmp/features.txt" || fail "resolved features differ"
  ;;
editions-request)
  need_buf
  make_editions_request
  "$dump" --features --request "$tmp/edrequest.pb" > "$tmp/features.txt"
  diff -u "$expected/editions_request.txt" "$tmp/features.txt" || fail "resolved features differ"
  ;;
editions-parser)
  # An editions .proto given to libprotoc 3.21's parser: one clear error.
  expect_error editions_parser -I "$ed_protos" edtest/features.proto
  ;;
editions-errors)
  editions_errors > "$tmp/errors.txt"
  diff -u "$expected/editions_errors.txt" "$tmp/errors.txt" || fail "editions errors differ"
  ;;
protos)
  dump_protos > "$tmp/model.txt"
  diff -u "$expected/model.txt" "$tmp/model.txt" || fail "model dump differs"
  ;;
protos-disk-path)
  # Files given as paths on disk under the include dir, not virtual names.
  # shellcheck disable=SC2086
  (cd "$src" && "$dump" -I protos protos/shimtest/types3.proto "$protos/shimtest/types2.proto") \
    > "$tmp/model.txt"
  diff -u "$expected/model.txt" "$tmp/model.txt" || fail "model dump differs"
  ;;
descriptor-set)
  make_set
  "$dump" --descriptor-set "$tmp/set.pb" > "$tmp/model.txt"
  body "$expected/model.txt" > "$tmp/want"
  body "$tmp/model.txt" > "$tmp/got"
  diff -u "$tmp/want" "$tmp/got" || fail "descriptor set model differs"
  grep -qx 'pool.to_generate: shimtest/common.proto google/protobuf/timestamp.proto shimtest/reexport.proto shimtest/types2.proto shimtest/types3.proto' \
    "$tmp/model.txt" || fail "descriptor set: to_generate is not every file"
  ;;
request)
  make_request
  "$dump" --request "$tmp/request.pb" > "$tmp/model.txt"
  body "$expected/model.txt" > "$tmp/want"
  body "$tmp/model.txt" > "$tmp/got"
  diff -u "$tmp/want" "$tmp/got" || fail "request model differs"
  grep -qx 'pool.parameter: "some_param=1"' "$tmp/model.txt" || fail "request: parameter"
  grep -qx 'pool.to_generate: shimtest/types3.proto shimtest/types2.proto' "$tmp/model.txt" \
    || fail "request: to_generate"
  grep -q '^pool.compiler_version: [1-9][0-9]*\.[0-9]*\.[0-9]*$' "$tmp/model.txt" \
    || fail "request: compiler_version"
  ! grep -qx 'pool.compiler_version: 0.0.0' "$tmp/model.txt" || fail "request: no compiler_version"
  ;;
syntax-error)
  expect_error syntax_error -I "$src/bad" syntax_error.proto
  ;;
unknown-type)
  expect_error unknown_type -I "$src/bad" unknown_type.proto
  ;;
missing-import)
  expect_error missing_import -I "$src/bad" missing_import.proto
  ;;
truncated-set)
  make_set
  size=$(wc -c < "$tmp/set.pb")
  head -c $((size / 2)) "$tmp/set.pb" > "$tmp/half.pb"
  expect_error truncated_set --descriptor-set "$tmp/half.pb"
  # A set that lacks a dependency: only types3.proto, without --include_imports.
  (cd "$protos" && "$protoc" -I . --descriptor_set_out="$tmp/partial.pb" shimtest/types3.proto)
  expect_error partial_set --descriptor-set "$tmp/partial.pb"
  ;;
malformed-request)
  printf '\377\377\377' > "$tmp/bad.pb"
  expect_error malformed_request --request "$tmp/bad.pb"
  ;;
update)
  mkdir -p "$expected"
  dump_protos > "$expected/model.txt"
  "$dump" -I "$src/bad" syntax_error.proto 2> "$expected/syntax_error.txt" || true
  "$dump" -I "$src/bad" unknown_type.proto 2> "$expected/unknown_type.txt" || true
  "$dump" -I "$src/bad" missing_import.proto 2> "$expected/missing_import.txt" || true
  make_set
  size=$(wc -c < "$tmp/set.pb")
  head -c $((size / 2)) "$tmp/set.pb" > "$tmp/half.pb"
  "$dump" --descriptor-set "$tmp/half.pb" 2> "$expected/truncated_set.txt" || true
  (cd "$protos" && "$protoc" -I . --descriptor_set_out="$tmp/partial.pb" shimtest/types3.proto)
  "$dump" --descriptor-set "$tmp/partial.pb" 2> "$expected/partial_set.txt" || true
  printf '\377\377\377' > "$tmp/bad.pb"
  "$dump" --request "$tmp/bad.pb" 2> "$expected/malformed_request.txt" || true
  editions_errors > "$expected/editions_errors.txt"
  "$dump" -I "$ed_protos" edtest/features.proto 2> "$expected/editions_parser.txt" || true
  if "$src/../../tools/npm-tool" "shim update" @bufbuild/buf "$buf_version" "$buf_cache"; then
    make_editions_set
    "$dump" --features --descriptor-set "$tmp/editions.binpb" > "$expected/editions_features.txt"
    make_editions_request
    "$dump" --features --request "$tmp/edrequest.pb" > "$expected/editions_request.txt"
  else
    echo "no buf: editions_features.txt and editions_request.txt left as they are"
  fi
  echo "rewrote $expected; review with git diff"
  ;;
*)
  fail "unknown case $case_name"
  ;;
esac
