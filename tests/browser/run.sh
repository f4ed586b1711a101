#!/bin/sh
# The browser suite: examples/payments/web/ in Debian's chromium, driven by
# playwright-core (installed through npm into a cache directory the way
# tests/integration/run.sh installs buf), against the real payments-server
# over gRPC-Web, from another origin than the API's, so CORS is in play.
#   run.sh PAYMENTS_SERVER WEB_DIR OUT_DIR
# Starts, all on 127.0.0.1 and stopped by PID on every exit: two static file
# servers for WEB_DIR (Python's http.server; the second one's origin is not
# allowed by the API) and payments-server; then payments_web.mjs drives the
# page and saves OUT_DIR/payments-web.png. Exits 0 on success, 1 on failure,
# 77 (skip) only without /usr/bin/chromium or when npm cannot download
# playwright-core.
set -eu

server=$1 web_dir=$2 out_dir=$3
here=$(cd "$(dirname "$0")" && pwd)
version=1.65.2
cache=${CPAY_PLAYWRIGHT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cpay/playwright-core-$version}
chromium=/usr/bin/chromium
python=/usr/bin/python3

if [ ! -x "$chromium" ]; then
  echo "browser: SKIP: no $chromium (tools/setup-deps installs Debian's chromium)"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cpay-browser.XXXXXX")
pids=""

# Stops what this script started, by PID: SIGTERM, up to 5 s, then SIGKILL.
stop_all() {
  for pid in $pids; do kill "$pid" 2>/dev/null || true; done
  for pid in $pids; do
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$pid" 2>/dev/null || true
  done
  pids=""
}
cleanup() {
  stop_all
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
  echo "browser: FAIL: $*"
  for f in "$work"/*.out "$work"/*.err; do
    [ -s "$f" ] && { echo "--- $(basename "$f")"; tail -n 40 "$f"; }
  done
  exit 1
}

# playwright-core downloads no browser: the test drives Debian's chromium.
"$here/../../tools/npm-tool" browser playwright-core "$version" "$cache" || exit $?

# Waits up to 10 s for `sed_expr` to find a port in `file`; prints it.
wait_port() {
  file=$1 sed_expr=$2 pid=$3
  i=0
  while [ $i -lt 100 ]; do
    port=$(sed -n "$sed_expr" "$file" 2>/dev/null | head -n 1)
    [ -n "$port" ] && { echo "$port"; return 0; }
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

# A static file server for the page on a free port; sets static_pid and
# static_port.
start_static() {
  name=$1
  "$python" -u -m http.server --bind 127.0.0.1 --directory "$web_dir" 0 \
    >"$work/$name.out" 2>"$work/$name.err" &
  static_pid=$!
  pids="$pids $static_pid"
  static_port=$(wait_port "$work/$name.out" 's/^Serving HTTP on 127\.0\.0\.1 port \([0-9]*\).*/\1/p' \
    "$static_pid") || fail "the $name file server did not start"
}

start_static static
page_origin=http://127.0.0.1:$static_port
start_static static-other
other_origin=http://127.0.0.1:$static_port

"$server" --listen 127.0.0.1:0 --http 127.0.0.1:0 --cors-origin "$page_origin" \
  >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
pids="$pids $server_pid"
api_port=$(wait_port "$work/server.out" 's/^payments-server: http on .*(port \([0-9]*\))$/\1/p' \
  "$server_pid") || fail "payments-server did not start"
api=http://127.0.0.1:$api_port
echo "browser: page at $page_origin, a disallowed origin at $other_origin, API at $api"

mkdir -p "$out_dir"
shot=$out_dir/payments-web.png
rm -f "$shot"
# playwright-core handles SIGTERM by closing the browser it launched.
rc=0
timeout -k 5 60 node "$here/payments_web.mjs" "$cache" "$chromium" "$page_origin" "$other_origin" \
  "$api" "$shot" || rc=$?
[ $rc -eq 0 ] || fail "payments_web.mjs exited with status $rc"
[ -s "$shot" ] || fail "no screenshot at $shot"

# payments-server shuts down cleanly (status 0) on SIGTERM.
kill "$server_pid"
i=0
while kill -0 "$server_pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$server_pid" 2>/dev/null && fail "payments-server did not exit within 10 s of SIGTERM"
src=0
wait "$server_pid" || src=$?
# Reaped: no longer ours to stop (its PID may be reused).
pids=$(for pid in $pids; do [ "$pid" = "$server_pid" ] || echo "$pid"; done)
[ $src -eq 0 ] || fail "payments-server exited with status $src"
echo "browser: screenshot: $shot"
echo "browser: ok"
