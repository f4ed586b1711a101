#!/bin/sh
# Validates the OpenAPI documents protoc-gen-cpay writes (--cpay_opt=openapi)
# with a standard validator, @apidevtools/swagger-parser, installed through
# npm into a cache directory the way tests/integration/run.sh installs buf:
# payments.proto's, generated here, and every checked-in golden one.
#   validate.sh PROTOC PLUGIN PROTO_DIR GOLDEN_DIR
# Exits 77 (skip) only when npm cannot download the validator.
set -eu

protoc=$1 plugin=$2 proto_dir=$3 golden_dir=$4
here=$(cd "$(dirname "$0")" && pwd)
version=10.1.1
cache=${CPAY_SWAGGER_PARSER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cpay/swagger-parser-$version}

work=$(mktemp -d "${TMPDIR:-/tmp}/cpay-openapi.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ ! -f "$cache/node_modules/@apidevtools/swagger-parser/package.json" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "openapi: SKIP: no npm to install @apidevtools/swagger-parser (tools/setup-deps installs it)"
    exit 77
  fi
  mkdir -p "$(dirname "$cache")"
  tmp_cache=$cache.tmp.$$
  if ! npm install --prefix "$tmp_cache" --no-audit --no-fund --loglevel=error \
       "@apidevtools/swagger-parser@$version" >"$work/npm.log" 2>&1; then
    cat "$work/npm.log"
    rm -rf "$tmp_cache"
    echo "openapi: SKIP: npm could not download @apidevtools/swagger-parser@$version (offline?)"
    exit 77
  fi
  rm -rf "$cache"
  mv "$tmp_cache" "$cache"
fi

"$protoc" --plugin=protoc-gen-cpay="$plugin" --cpay_out=openapi:"$work" -I"$proto_dir" \
  "$proto_dir/payments.proto"
docs="$work/payments.PaymentService.openapi.json"
[ -f "$docs" ] || { echo "openapi: protoc wrote no $docs"; exit 1; }
found=$(find "$golden_dir" -path '*/expected/*.openapi.json' | sort)
[ -n "$found" ] || { echo "openapi: no golden OpenAPI document under $golden_dir"; exit 1; }
# shellcheck disable=SC2086  # golden paths have no spaces
node "$here/validate.mjs" "$cache" "$docs" $found
