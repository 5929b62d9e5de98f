#!/usr/bin/env bash
# Renders an HTML report (`vitq quantize --report R.html`) in headless Chromium (Debian's
# `chromium` package) and saves a PNG screenshot: a check that the page renders in a real browser.
#   scripts/report_screenshot.sh REPORT.html OUT.png [WIDTH,HEIGHT]   (default 1280,2400)
# With --dump-dom instead of OUT.png, prints the DOM as Chromium parsed it.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 REPORT.html OUT.png|--dump-dom [WIDTH,HEIGHT]" >&2
  exit 2
fi
report="$(realpath "$1")"
out="$2"
size="${3:-1280,2400}"
[ -f "$report" ] || { echo "$0: no such report: $1" >&2; exit 2; }
command -v chromium >/dev/null || { echo "$0: chromium is not installed (apt-get install chromium)" >&2; exit 2; }
# A throw-away profile: parallel runs do not share (and lock) one, nothing is left in $HOME.
profile="$(mktemp -d)"
log="$(mktemp)"
trap 'rm -rf "$profile" "$log"' EXIT
flags=(--headless --disable-gpu --no-sandbox --disable-dev-shm-usage --hide-scrollbars
       --user-data-dir="$profile" --window-size="$size")
# Chromium logs harmless D-Bus errors on a headless machine: keep its stderr for failures only.
if [ "$out" = "--dump-dom" ]; then
  timeout 120 chromium "${flags[@]}" --dump-dom "file://$report" 2>"$log" || { cat "$log" >&2; exit 1; }
else
  rm -f "$out"
  timeout 120 chromium "${flags[@]}" --screenshot="$(realpath -m "$out")" "file://$report" >"$log" 2>&1 ||
    { cat "$log" >&2; exit 1; }
  [ -s "$out" ] || { cat "$log" >&2; echo "$0: chromium wrote no screenshot" >&2; exit 1; }
fi
