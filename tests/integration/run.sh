#!/bin/sh
# The integration suite: consumer projects built out of tree against cpay
# installed into a temporary prefix (meson install --destdir), the way users
# meet cpay. One case per run:
#   run.sh CASE BUILD_ROOT SOURCE_ROOT PREFIX LIBDIR BINDIR VERSION
# CASE: make | meson | meson-subproject | cmake | buf | docs | version |
#       headers | gencode-mismatch | protodir
# Each case exits 0 on success, 1 on failure, 77 (skip) only when buf can
# neither be found nor downloaded.
set -eu

case=$1 build_root=$2 source_root=$3 prefix=$4 libdir=$5 bindir=$6 version=$7
here=$source_root/tests/integration
proto_dir=$source_root/proto
consumer_dir=$here/consumer

work=$(mktemp -d "${TMPDIR:-/tmp}/cpay-integration-$case.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

fail() {
  echo "integration $case: $*" >&2
  exit 1
}

# Runs a program and checks its output line (each consumer prints "...: ok").
run_ok() {
  out=$("$@") || fail "$* exited with status $?"
  echo "$out"
  case $out in *": ok"*) ;; *) fail "$* did not report ok" ;; esac
}

# Fails unless $1 depends (or, with "no", does not depend) on libcpay*.so.
check_needed() {
  want=$1 exe=$2
  needed=$(readelf -d "$exe" | sed -n 's/.*(NEEDED).*\[\(libcpay[^]]*\)\].*/\1/p' | tr '\n' ' ')
  if [ "$want" = no ] && [ -n "$needed" ]; then
    fail "$exe should be linked statically with cpay but needs: $needed"
  fi
  if [ "$want" != no ] && ! echo "$needed" | grep -q "$want"; then
    fail "$exe should need $want, needs: ${needed:-nothing from cpay}"
  fi
  return 0
}

install_cpay() {
  meson install -C "$build_root" --no-rebuild --quiet --destdir "$work/dest" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log" >&2; fail "meson install failed"; }
  root=$work/dest$prefix
  # meson keeps libdir and bindir relative to the prefix unless they are not.
  case $libdir in /*) lib=$work/dest$libdir ;; *) lib=$root/$libdir ;; esac
  case $bindir in /*) bin=$work/dest$bindir ;; *) bin=$root/$bindir ;; esac
  export PKG_CONFIG_PATH="$lib/pkgconfig"
  export PATH="$bin:$PATH"
  export LD_LIBRARY_PATH="$lib"
  unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR 2>/dev/null || true
  # The installed plugin is the one every case runs.
  [ "$(command -v protoc-gen-cpay)" = "$bin/protoc-gen-cpay" ] ||
    fail "protoc-gen-cpay on PATH is $(command -v protoc-gen-cpay), not the installed one"
}

case $case in
make)
  install_cpay
  mkdir "$work/make" && cd "$work/make"
  make -f "$here/make/Makefile" PROTO_DIR="$proto_dir" SRC_DIR="$consumer_dir" \
    >"$work/make.log" 2>&1 || { cat "$work/make.log" >&2; fail "make failed"; }
  run_ok ./roundtrip
  run_ok ./roundtrip-static
  run_ok ./grpc_call
  run_ok ./grpc_call-static
  check_needed libcpay.so ./roundtrip
  check_needed libcpay-grpc.so ./grpc_call
  check_needed no ./roundtrip-static
  check_needed no ./grpc_call-static
  # -static: nothing at all is loaded at run time.
  readelf -d ./roundtrip-static | grep -q NEEDED && fail "roundtrip-static is not fully static"
  ;;

meson)
  install_cpay
  meson setup "$work/build" "$here/meson" -Dproto_dir="$proto_dir" \
    -Dconsumer_dir="$consumer_dir" >"$work/setup.log" 2>&1 ||
    { cat "$work/setup.log" >&2; fail "meson setup failed"; }
  grep -q "Run-time dependency cpay found: YES $version" "$work/setup.log" ||
    { cat "$work/setup.log" >&2; fail "cpay $version was not found through pkg-config"; }
  meson compile -C "$work/build" >"$work/compile.log" 2>&1 ||
    { cat "$work/compile.log" >&2; fail "meson compile failed"; }
  run_ok "$work/build/roundtrip"
  run_ok "$work/build/roundtrip-static"
  run_ok "$work/build/wkt_roundtrip"
  run_ok "$work/build/grpc_call"
  check_needed libcpay.so "$work/build/roundtrip"
  check_needed no "$work/build/roundtrip-static"
  check_needed libcpay-grpc.so "$work/build/grpc_call"
  ;;

meson-subproject)
  # No install: cpay's source tree is the consumer's subprojects/cpay.
  cp -r "$here/meson" "$work/src"
  mkdir "$work/src/subprojects"
  ln -s "$source_root" "$work/src/subprojects/cpay"
  meson setup "$work/build" "$work/src" --force-fallback-for=cpay \
    -Dproto_dir="$proto_dir" -Dconsumer_dir="$consumer_dir" -Dstatic_check=false \
    -Dcpay:tests=false -Dcpay:default_library=static >"$work/setup.log" 2>&1 ||
    { cat "$work/setup.log" >&2; fail "meson setup failed"; }
  grep -q "^Executing subproject cpay" "$work/setup.log" &&
    grep -q "Dependency cpay found: YES $version (overridden)" "$work/setup.log" &&
    grep -q "Dependency cpay-grpc found: YES $version (overridden)" "$work/setup.log" ||
    { cat "$work/setup.log" >&2; fail "cpay was not taken from the subproject"; }
  grep -q "Program protoc-gen-cpay found: YES (overridden)" "$work/setup.log" ||
    { cat "$work/setup.log" >&2; fail "protoc-gen-cpay was not the subproject's"; }
  meson compile -C "$work/build" -j 2 >"$work/compile.log" 2>&1 ||
    { cat "$work/compile.log" >&2; fail "meson compile failed"; }
  run_ok "$work/build/roundtrip"
  run_ok "$work/build/wkt_roundtrip"
  run_ok "$work/build/grpc_call"
  check_needed no "$work/build/roundtrip"
  ;;

cmake)
  install_cpay
  # Ninja is there (meson needs it) and is quicker than make here.
  export CMAKE_GENERATOR=Ninja
  cmake -S "$here/cmake" -B "$work/build" -DCMAKE_PREFIX_PATH="$root" \
    -DPROTO_DIR="$proto_dir" -DCONSUMER_DIR="$consumer_dir" >"$work/configure.log" 2>&1 ||
    { cat "$work/configure.log" >&2; fail "cmake configure failed"; }
  cmake --build "$work/build" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log" >&2; fail "cmake build failed"; }
  run_ok "$work/build/roundtrip"
  run_ok "$work/build/roundtrip_static"
  run_ok "$work/build/wkt_roundtrip"
  run_ok "$work/build/grpc_call"
  run_ok "$work/build/grpc_call_static"
  check_needed libcpay.so "$work/build/roundtrip"
  check_needed no "$work/build/roundtrip_static"
  check_needed libcpay.so "$work/build/wkt_roundtrip"
  check_needed libcpay-grpc.so "$work/build/grpc_call"
  check_needed no "$work/build/grpc_call_static"
  # CPAY_USE_STATIC_LIBS=ON: cpay::cpay and cpay::cpay-grpc are the archives.
  cmake -S "$here/cmake" -B "$work/static" -DCMAKE_PREFIX_PATH="$root" -DCPAY_USE_STATIC_LIBS=ON \
    -DPROTO_DIR="$proto_dir" -DCONSUMER_DIR="$consumer_dir" >"$work/configure-static.log" 2>&1 ||
    { cat "$work/configure-static.log" >&2; fail "cmake configure (CPAY_USE_STATIC_LIBS) failed"; }
  cmake --build "$work/static" --target roundtrip grpc_call wkt_roundtrip >"$work/build-static.log" 2>&1 ||
    { cat "$work/build-static.log" >&2; fail "cmake build (CPAY_USE_STATIC_LIBS) failed"; }
  for exe in roundtrip grpc_call wkt_roundtrip; do
    run_ok "$work/static/$exe"
    check_needed no "$work/static/$exe"
  done
  # The version file: 0.x accepts the same minor only, never a newer one.
  major=${version%%.*} rest=${version#*.} minor=${rest%%.*}
  for wanted in "$major.$((minor + 1))" "$((major + 1)).0"; do
    mkdir "$work/v$wanted"
    printf 'cmake_minimum_required(VERSION 3.13)\nproject(v C)\nfind_package(cpay %s REQUIRED)\n' \
      "$wanted" >"$work/v$wanted/CMakeLists.txt"
    if cmake -S "$work/v$wanted" -B "$work/v$wanted/b" -DCMAKE_PREFIX_PATH="$root" \
         >"$work/v$wanted.log" 2>&1; then
      fail "find_package(cpay $wanted) accepted cpay $version"
    fi
    grep -q "$version" "$work/v$wanted.log" || fail "find_package(cpay $wanted) did not name $version"
  done
  ;;

buf)
  install_cpay
  buf_version=1.47.2
  cache=${CPAY_BUF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cpay/buf-$buf_version}
  buf=$cache/node_modules/.bin/buf
  "$here/../../tools/npm-tool" "integration buf" @bufbuild/buf "$buf_version" "$cache" || exit $?
  "$buf" --version
  mkdir "$work/buf" && cd "$work/buf"
  cp "$here/buf/buf.gen.yaml" .
  # proto/ is the module; --path generates payments.proto alone, not the
  # google/api/*.proto it imports for its google.api.http options.
  "$buf" generate "$proto_dir" --path "$proto_dir/payments.proto" || fail "buf generate failed"
  # buf compiles the schema itself: the result must be what protoc gives.
  mkdir "$work/protoc"
  protoc --plugin=protoc-gen-cpay="$(pkg-config --variable=protoc_gen_cpay cpay)" \
    --cpay_out="$work/protoc" -I"$proto_dir" "$proto_dir/payments.proto"
  # buf compiles google/protobuf/ imports from its own bundled copies, and its
  # descriptor.proto (imported by google/api/annotations.proto) is newer than
  # Debian's: the embedded descriptors of google/protobuf/ files, for server
  # reflection, are buf's. Everything else is compared byte for byte.
  for d in "$work/protoc" gen; do
    awk '/^\/\/ google\/protobuf\/.*\(serialized FileDescriptorProto/ { skip = 1 }
         skip { if (/^};/) skip = 0; next }
         { sub(/"google\/protobuf\/[^"]*", [a-z_]*__grpc_file_[0-9]*, [0-9]*}/, "<google/protobuf file>}") }
         { print }' "$d/payments.cpay_grpc.c" >"$d.grpc_c"
  done
  diff "$work/protoc.grpc_c" gen.grpc_c || fail "buf generate and protoc --cpay_out differ"
  diff -r -x payments.cpay_grpc.c "$work/protoc" gen || fail "buf generate and protoc --cpay_out differ"
  cc -std=c11 -Wall -Wextra -Werror -Igen $(pkg-config --cflags cpay-grpc) -o roundtrip \
    "$consumer_dir/roundtrip.c" gen/payments.cpay.c $(pkg-config --libs cpay)
  cc -std=c11 -Wall -Wextra -Werror -Igen $(pkg-config --cflags cpay-grpc) -o grpc_call \
    "$consumer_dir/grpc_call.c" gen/payments.cpay.c gen/payments.cpay_grpc.c \
    -L"$(pkg-config --variable=libdir cpay)" -Wl,-Bstatic -lcpay-grpc -lcpay-wkt -lcpay \
    -Wl,-Bdynamic $(pkg-config --libs grpc) -pthread
  run_ok ./roundtrip
  run_ok ./grpc_call
  check_needed no ./grpc_call
  ;;

docs)
  # The recipes of docs/integration.md, copied from the page, each building
  # "app" from main.c (grpc_call.c) and proto/payments.proto.
  install_cpay
  python3 "$here/extract_docs.py" "$source_root/docs/integration.md" "$work"
  for d in cmake make meson; do
    mkdir "$work/$d/proto"
    cp "$proto_dir/payments.proto" "$work/$d/proto/"
    cp "$consumer_dir/grpc_call.c" "$work/$d/main.c"
  done
  (cd "$work/cmake" && cmake -S . -B build -G Ninja -DCMAKE_PREFIX_PATH="$root" &&
    cmake --build build) >"$work/cmake.log" 2>&1 ||
    { cat "$work/cmake.log" >&2; fail "the CMake recipe does not build"; }
  (cd "$work/make" && make app) >"$work/make.log" 2>&1 ||
    { cat "$work/make.log" >&2; fail "the make recipe does not build"; }
  (cd "$work/meson" && meson setup build && meson compile -C build) >"$work/meson.log" 2>&1 ||
    { cat "$work/meson.log" >&2; fail "the meson recipe does not build"; }
  run_ok "$work/cmake/build/app"
  run_ok "$work/make/app"
  run_ok "$work/meson/build/app"
  ;;

version)
  install_cpay
  out=$(protoc-gen-cpay --version) || fail "protoc-gen-cpay --version failed"
  [ "$out" = "protoc-gen-cpay $version" ] || fail "--version printed '$out', want 'protoc-gen-cpay $version'"
  protoc-gen-cpay --help >"$work/help" 2>&1 || fail "protoc-gen-cpay --help failed"
  grep -q "^usage: protoc --plugin=protoc-gen-cpay" "$work/help" || fail "--help printed no usage line"
  [ "$(pkg-config --modversion cpay)" = "$version" ] || fail "cpay.pc has $(pkg-config --modversion cpay)"
  [ "$(pkg-config --modversion cpay-grpc)" = "$version" ] || fail "cpay-grpc.pc has another version"
  grep -q "^#define CPAY_VERSION_STRING \"$version\"$" "$(pkg-config --variable=includedir cpay)/cpay/version.h" ||
    fail "installed cpay/version.h does not say $version"
  protoc --plugin=protoc-gen-cpay="$(command -v protoc-gen-cpay)" --cpay_out="$work" \
    -I"$proto_dir" "$proto_dir/payments.proto"
  for f in payments.cpay.h payments.cpay.c payments.cpay_grpc.h payments.cpay_grpc.c; do
    head -n 1 "$work/$f" | grep -q "^// Generated by protoc-gen-cpay $version from payments.proto. DO NOT EDIT.$" ||
      fail "$f banner: $(head -n 1 "$work/$f")"
  done
  echo "protoc-gen-cpay, cpay.pc, cpay-grpc.pc, cpay/version.h and banners all say $version"
  ;;

headers)
  # Every installed header compiles alone, as C11 and as C++17, from the
  # installed include directory only: nothing it needs was left uninstalled.
  install_cpay
  inc=$(pkg-config --variable=includedir cpay)
  count=0
  for h in "$inc"/cpay/*.h "$inc"/google/protobuf/*.cpay.h "$inc"/google/rpc/*.cpay.h; do
    rel=${h#"$inc"/}
    # (The typedef keeps a macros-only header's unit from being empty.)
    printf '#include "%s"\ntypedef int not_empty;\n' "$rel" >"$work/one.c"
    cp "$work/one.c" "$work/one.cc"
    cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I"$inc" -c -o "$work/one.o" "$work/one.c" ||
      fail "$rel does not compile alone as C11"
    c++ -std=c++17 -Wall -Wextra -Werror -I"$inc" -c -o "$work/one.o" "$work/one.cc" ||
      fail "$rel does not compile alone as C++17"
    count=$((count + 1))
  done
  [ "$count" -ge 15 ] || fail "only $count installed headers"
  echo "$count installed headers compile alone as C11 and C++17"
  ;;

protodir)
  # google/api/annotations.proto and http.proto as installed: cpay.pc's
  # protodir is the only -I a schema with google.api.http options needs
  # (protoc finds google/protobuf/descriptor.proto itself), and the code
  # generated from it builds without any code for google/api.
  install_cpay
  protodir=$(pkg-config --variable=protodir cpay)
  for f in annotations.proto http.proto; do
    cmp "$protodir/google/api/$f" "$proto_dir/google/api/$f" ||
      fail "installed $protodir/google/api/$f differs from proto/google/api/$f"
  done
  mkdir "$work/schema" "$work/gen"
  cp "$proto_dir/payments.proto" "$work/schema/"
  protoc --plugin=protoc-gen-cpay="$(command -v protoc-gen-cpay)" --cpay_out="$work/gen" \
    -I"$work/schema" -I"$protodir" "$work/schema/payments.proto" ||
    fail "protoc with -I$protodir failed"
  grep -q '{"GET", "/v1/customers/{customer_id}/transactions", NULL, NULL}' \
    "$work/gen/payments.cpay_grpc.c" || fail "payments.cpay_grpc.c has no route for StreamTransactions"
  cc -std=c11 -Wall -Wextra -Werror -I"$work/gen" $(pkg-config --cflags cpay-grpc) -o "$work/grpc_call" \
    "$consumer_dir/grpc_call.c" "$work/gen/payments.cpay.c" "$work/gen/payments.cpay_grpc.c" \
    $(pkg-config --libs cpay-grpc) || fail "the generated code does not build"
  run_ok "$work/grpc_call"
  ;;

gencode-mismatch)
  install_cpay
  inc=$(pkg-config --variable=includedir cpay)
  protoc --plugin=protoc-gen-cpay="$(command -v protoc-gen-cpay)" --cpay_out="$work" \
    -I"$proto_dir" "$proto_dir/payments.proto"
  # Control: the matching runtime headers compile the generated code.
  for f in payments.cpay.c payments.cpay_grpc.c; do
    cc -std=c11 -Werror -I"$work" -I"$inc" -c -o "$work/ok.o" "$work/$f" ||
      fail "$f does not compile against the installed headers"
  done
  # The same headers from a runtime whose generated-code version moved on.
  cp -r "$inc/cpay" "$work/newer-cpay" && mkdir "$work/newer" && mv "$work/newer-cpay" "$work/newer/cpay"
  sed -i 's/^#define CPAY_GENCODE_VERSION .*/#define CPAY_GENCODE_VERSION 999/' "$work/newer/cpay/version.h"
  grep -q "CPAY_GENCODE_VERSION 999" "$work/newer/cpay/version.h" ||
    fail "version.h has no CPAY_GENCODE_VERSION"
  for f in payments.cpay.c payments.cpay_grpc.c; do
    if cc -std=c11 -I"$work" -I"$work/newer" -c -o "$work/bad.o" "$work/$f" 2>"$work/err"; then
      fail "$f compiled against a runtime with another CPAY_GENCODE_VERSION"
    fi
    cat "$work/err"
    grep -q 'payments\.cpay\(_grpc\)\?\.h:[0-9]*:[0-9]*: error: #error "regenerate with a matching protoc-gen-cpay"' "$work/err" ||
      fail "$f: no #error from the generated header's version check"
  done
  ;;

*)
  fail "unknown case"
  ;;
esac
echo "integration $case: ok"
