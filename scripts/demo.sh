#!/usr/bin/env bash
# The embedded default (README's first command): on one machine, as root, replays the bundled
# capture (test/fixtures/demo/http-sample.pcap, recorded from real HTTP traffic) into a target
# server in a private network-namespace lab, and prints sessions, requests sent, requests the
# server logged, fidelity and time. Installs what is missing, runs `npm ci` when node_modules is
# missing or older than package-lock.json, builds when the sources changed. Cleans up after
# itself, also on Ctrl-C; can be run again at once.
#
#   bash scripts/demo.sh [--server nginx|node] [--pcap FILE] [--keep-log FILE]
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "demo: needs root (network namespaces, iptables NFQUEUE, raw sockets): sudo bash scripts/demo.sh" >&2
  exit 1
fi

bash scripts/install-deps.sh

# node_modules/.package-lock.json is written by npm ci/install: older than the lock = stale.
if [[ ! -d node_modules || ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "demo: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# Build when something is missing or a source is newer than its output.
stale() {
  [[ -f dist/scripts/demo-run.js && -f dist/src/cli/tcpcopy.js && -f dist/src/cli/intercept.js ]] || return 0
  [[ -f src/native/nfq/build/Release/nfq.node && -f src/native/rawsend/build/Release/rawsend.node ]] || return 0
  [[ -n $(find src scripts test/helpers -newer dist/scripts/demo-run.js \( -name '*.ts' -o -name '*.c' \) -print -quit) ]]
}
if stale; then
  echo "demo: building (npm run build)"
  # tsc emits even when it reports type errors; the demo only needs the emitted files.
  log=$(mktemp /tmp/tcpcopy-demo-build.XXXXXX)
  if npm run build --silent >"$log" 2>&1; then
    rm -f "$log"
  elif [[ -f dist/scripts/demo-run.js && -f dist/src/cli/tcpcopy.js ]]; then
    echo "demo: the build reported errors (log: $log); continuing with the files it emitted" >&2
  else
    cat "$log" >&2
    exit 1
  fi
  touch dist/scripts/demo-run.js
fi

# exec: Ctrl-C goes straight to the runner, whose lab tears the namespaces down before exiting.
exec node dist/scripts/demo-run.js "$@"
