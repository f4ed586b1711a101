#!/bin/sh
# protoc-gen-cpay --descriptor-set: generating from a FileDescriptorSet
# without protoc must write exactly what protoc and the plugin write (the
# golden files of formats_binary, with its parameters, and of imports, whose
# set holds several files), and every misuse must fail with its message.
#
#   descriptor_set_test.sh PROTOC PLUGIN GOLDEN_DIR PROTO_INCLUDE
set -u
protoc=$1 plugin=$2 golden=$3 proto_include=$4  # google/api/*.proto
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; failures=$((failures + 1)); }

# formats_binary, with its parameters: the set from protoc (source info
# kept, for the comments; google/api imports in it too), its two files named,
# the output compared with the golden files.
in=$golden/formats_binary/input
"$protoc" -I"$in" -I"$proto_include" --include_source_info --descriptor_set_out="$tmp/binary.pb" --include_imports \
  binary.proto binary_service.proto || exit 1
if "$plugin" --descriptor-set="$tmp/binary.pb" --out="$tmp/out1" \
     --param="$(cat "$in/params.txt")" binary.proto binary_service.proto &&
   diff -r "$golden/formats_binary/expected" "$tmp/out1" >"$tmp/diff1"; then
  ok "formats_binary from a descriptor set, with --param"
else
  cat "$tmp/diff1"; bad "formats_binary from a descriptor set"
fi

# imports: no file named, every file of the set is generated (into a
# folder that does not exist yet); then one named, only that one.
in=$golden/imports/input
"$protoc" -I"$in" --include_source_info --descriptor_set_out="$tmp/imports.pb" \
  app/app.proto common/money.proto || exit 1
if "$plugin" --descriptor-set="$tmp/imports.pb" --out="$tmp/deep/out2" &&
   diff -r "$golden/imports/expected" "$tmp/deep/out2"; then
  ok "imports: every file of the set, in new folders"
else
  bad "imports: every file of the set"
fi
if "$plugin" --descriptor-set="$tmp/imports.pb" --out="$tmp/out3" common/money.proto &&
   [ "$(find "$tmp/out3" -type f | wc -l)" -eq 2 ] &&
   diff -r "$golden/imports/expected/common" "$tmp/out3/common"; then
  ok "imports: the one file named"
else
  bad "imports: the one file named"
fi

# Misuse: exit 1 and the message.
expect_error() {  # WANT ARGS...
  want=$1; shift
  out=$("$plugin" "$@" 2>&1 </dev/null)
  rc=$?
  if [ $rc -eq 1 ] && [ "$out" = "$want" ]; then ok "error: $want"; else
    bad "$* gave ($rc) '$out', want '$want'"; fi
}
printf 'not a set' >"$tmp/junk.pb"
: >"$tmp/file"
expect_error "protoc-gen-cpay: --descriptor-set needs --out DIR (try --help)" \
  --descriptor-set="$tmp/binary.pb"
expect_error "protoc-gen-cpay: --out, --param and file names go with --descriptor-set (try --help)" \
  --out="$tmp/x"
expect_error "protoc-gen-cpay: nope.proto is not in $tmp/binary.pb" \
  --descriptor-set="$tmp/binary.pb" --out="$tmp/x" nope.proto
expect_error "protoc-gen-cpay: cannot read $tmp/missing.pb: No such file or directory" \
  --descriptor-set="$tmp/missing.pb" --out="$tmp/x"
expect_error "protoc-gen-cpay: $tmp/junk.pb: malformed FileDescriptorSet" \
  --descriptor-set="$tmp/junk.pb" --out="$tmp/x"
expect_error "protoc-gen-cpay: unknown parameter \"colour\" (known parameters: api_macro, breaking_lock, formats, openapi)" \
  --descriptor-set="$tmp/binary.pb" --out="$tmp/x" --param=colour=red
expect_error "protoc-gen-cpay: cannot write $tmp/file/binary.cpay.h: Not a directory" \
  --descriptor-set="$tmp/binary.pb" --out="$tmp/file" binary.proto
[ $failures -eq 0 ]
