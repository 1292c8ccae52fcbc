#!/usr/bin/env bash
# Installs the system packages tcpcopy-ts needs to build and test, only those missing.
# Debian/Ubuntu, as root. `apt-get update` runs at most once, and only if something is missing.
set -euo pipefail

need_pkgs=(build-essential python3 pkg-config libpcap-dev libnetfilter-queue-dev iptables iproute2
  tcpdump nginx-light redis-server redis-tools curl procps kmod util-linux libcap2-bin ethtool)
for arg in "$@"; do
  case "$arg" in
    # systemd only for `systemd-analyze verify` of our units in the tests.
    # nats-server: the JetStream recording store's integration tests; chromium: headless checks
    # of the replay report's HTML page.
    --with-test-tools) need_pkgs+=(systemd nats-server chromium) ;;
    # wrk measures the target's own ceiling in scripts/bench/replay.ts; tcpreplay feeds the live
    # capture benchmark (scripts/bench/capture.ts).
    --with-bench-tools) need_pkgs+=(wrk tcpreplay nats-server) ;;
    *) echo "install-deps: unknown option $arg (--with-test-tools, --with-bench-tools)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${need_pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing system packages: ${missing[*]}" >&2
    echo "install-deps: run as root (or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # nginx/redis packages try to start their services; tests start their own instances instead.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

if ! command -v node >/dev/null || [[ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]]; then
  echo "install-deps: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
