#!/bin/sh
# Test driver for cpay-breaking (suite 'evolution'). Each case is a directory
# tests/evolution/CASE with its expected output in CASE/expected.txt:
#
#   old.proto + new.proto   a pair: copied to old/api.proto and new/api.proto,
#                           then `cpay-breaking --against old new`
#   old/ + new/             a pair of directories, checked the same way
#   v1/ v2/ v3/             a history: v1 starts the lock, v2 is recorded with
#                           --update-lock --force, then v3 is checked against v2
#                           and the lock; the final lock is part of the output
#   args                    extra arguments for the (last) check
#   cmd                     a shell script run instead of the steps above, with
#                           brk (runs cpay-breaking and prints its exit status),
#                           $BRK, $PROTOC and $PLUGIN (protoc-gen-cpay), and
#                           $CONFORMANCE_DIR (../shared/conformance, from meson)
#   needs-buf               the cmd also uses $BUF, npm's @bufbuild/buf 1.75.0 (a
#                           compiler that knows editions, which Debian's protoc 3.21
#                           does not); installed by tools/npm-tool, the case is
#                           skipped (exit 77) when it cannot be
#
#   run.sh CASE BRK SRCDIR PROTOC PLUGIN     run one case
#   run.sh update BRK SRCDIR PROTOC PLUGIN   rewrite every expected.txt (review the
#                                            diff; `meson compile -C BUILD update-evolution`)
set -eu

case_name=$1
BRK=$2
src=$3
PROTOC=$4
PLUGIN=$5
export BRK PROTOC PLUGIN

brk() {
  echo "\$ cpay-breaking $*"
  rc=0
  "$BRK" "$@" 2>&1 || rc=$?
  echo "[exit $rc]"
}

run_case() {
  dir=$src/$1
  work=$(mktemp -d)
  (
    cd "$work"
    args=""
    [ -f "$dir/args" ] && args=$(cat "$dir/args")
    if [ -f "$dir/cmd" ]; then
      cp -R "$dir"/. .
      rm -f expected.txt
      set +e
      . "$dir/cmd"
    elif [ -d "$dir/v1" ]; then
      cp -R "$dir/v1" "$dir/v2" "$dir/v3" .
      brk --lock cpay.lock --update-lock v1
      brk --lock cpay.lock --update-lock --force --against v1 v2
      # shellcheck disable=SC2086
      brk --lock cpay.lock $args --against v2 v3
      echo "--- cpay.lock"
      cat cpay.lock
    else
      if [ -f "$dir/old.proto" ]; then
        mkdir old new
        cp "$dir/old.proto" old/api.proto
        cp "$dir/new.proto" new/api.proto
      else
        cp -R "$dir/old" "$dir/new" .
      fi
      # shellcheck disable=SC2086
      brk $args --against old new
    fi
  ) > "$work.out" 2>&1 || true
  rm -rf "$work"
  echo "$work.out"
}

if [ "$case_name" = update ]; then
  for d in "$src"/*/; do
    c=$(basename "$d")
    if [ -f "$d/needs-buf" ]; then
      bufdir=$HOME/.cache/cpay/buf-1.75.0
      "$src/../../tools/npm-tool" "evolution-$c" @bufbuild/buf 1.75.0 "$bufdir" >/dev/null || continue
      BUF=$bufdir/node_modules/.bin/buf
      export BUF
    fi
    out=$(run_case "$c")
    mv "$out" "$src/$c/expected.txt"
  done
  exit 0
fi

if [ -f "$src/$case_name/needs-buf" ]; then
  bufdir=$HOME/.cache/cpay/buf-1.75.0
  "$src/../../tools/npm-tool" "evolution-$case_name" @bufbuild/buf 1.75.0 "$bufdir" || exit $?
  BUF=$bufdir/node_modules/.bin/buf
  export BUF
fi
out=$(run_case "$case_name")
if ! diff -u "$src/$case_name/expected.txt" "$out"; then
  rm -f "$out"
  echo "FAIL: $case_name: output differs from expected.txt (meson compile update-evolution rewrites it)" >&2
  exit 1
fi
rm -f "$out"
