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

"$here/../../tools/npm-tool" openapi @apidevtools/swagger-parser "$version" "$cache" || exit $?

"$protoc" --plugin=protoc-gen-cpay="$plugin" --cpay_out=openapi:"$work" -I"$proto_dir" \
  "$proto_dir/payments.proto"
docs="$work/payments.PaymentService.openapi.json"
[ -f "$docs" ] || { echo "openapi: protoc wrote no $docs"; exit 1; }
found=$(find "$golden_dir" -path '*/expected/*.openapi.json' | sort)
[ -n "$found" ] || { echo "openapi: no golden OpenAPI document under $golden_dir"; exit 1; }
# shellcheck disable=SC2086  # golden paths have no spaces
node "$here/validate.mjs" "$cache" "$docs" $found
