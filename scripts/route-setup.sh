#!/usr/bin/env bash
# Route set-up on the TEST SERVER for the classic two-host layout (copier host ── test server).
#
#   route-setup.sh add    --clients CIDR[,CIDR...] --via COPIER_IP [--dev IF] [--rp-filter loose|off]
#   route-setup.sh del    --clients CIDR[,CIDR...] --via COPIER_IP [--dev IF]
#   route-setup.sh status --clients CIDR[,CIDR...]
#
# Why: tcpcopy sends the captured clients' packets with their own (fake, from the test server's
# point of view) source addresses. The test server's kernel answers them only if it has a route
# towards those addresses; with no route the SYN-ACK is never emitted, never passes OUTPUT, and
# intercept never sees it ("handshake never completes"). Routing the client range via the copier
# host also means that a response that escaped the NFQUEUE rule goes to the copier, which drops it,
# instead of to a real client.
#
# rp_filter: packets from the fake clients arrive from the copier. With strict reverse-path
# filtering (rp_filter=1) the kernel drops them unless the route back to their source leaves via the
# interface they came in on; the route added here does that when --dev is that interface (or the
# gateway is reached through it). If clients come in on another interface, use --rp-filter loose
# (2: any route back will do) or off (0). The effective value is max(all, interface).
#
# CIDR may be "default" when the captured clients are arbitrary addresses (a production capture).
# `add` is idempotent (ip route replace); `del` removes exactly the routes via COPIER_IP.
# Exit status: 0 done (status: all routes present), 1 failure, 2 bad usage, 3 status: missing.
set -euo pipefail
prog=$(basename "$0")
bad() { echo "$prog: $*" >&2; exit 2; }
die() { echo "$prog: $*" >&2; exit 1; }
help() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }

[[ $# -ge 1 ]] || bad "usage: $prog add|del|status --clients CIDR[,CIDR...] --via COPIER_IP [--dev IF] [--rp-filter loose|off]"
action=$1; shift
case "$action" in
  add|del|status) ;;
  -h|--help|help) help ;;
  *) bad "unknown action '$action' (accepted: add, del, status)" ;;
esac

clients='' via='' dev='' rpf=''
while [[ $# -gt 0 ]]; do
  case "$1" in
    --clients) [[ $# -ge 2 ]] || bad "--clients needs CIDR[,CIDR...]"; clients=$2; shift 2 ;;
    --clients=*) clients=${1#*=}; shift ;;
    --via) [[ $# -ge 2 ]] || bad "--via needs the copier's address"; via=$2; shift 2 ;;
    --via=*) via=${1#*=}; shift ;;
    --dev) [[ $# -ge 2 ]] || bad "--dev needs an interface"; dev=$2; shift 2 ;;
    --dev=*) dev=${1#*=}; shift ;;
    --rp-filter) [[ $# -ge 2 ]] || bad "--rp-filter needs loose or off"; rpf=$2; shift 2 ;;
    --rp-filter=*) rpf=${1#*=}; shift ;;
    -h|--help) help ;;
    *) bad "unknown option '$1'" ;;
  esac
done

ipv4='(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}'
[[ -n "$clients" ]] || bad "--clients CIDR[,CIDR...] is required (the fake client range, e.g. 10.8.0.0/16, or default)"
IFS=',' read -r -a cidrs <<<"$clients"
for c in "${cidrs[@]}"; do
  [[ "$c" == default || "$c" =~ ^${ipv4}(/([0-9]|[12][0-9]|3[0-2]))?$ ]] || bad "--clients '$c': expected a.b.c.d/len or default"
done
if [[ "$action" != status ]]; then
  [[ "$via" =~ ^${ipv4}$ ]] || bad "--via '$via': expected the copier host's IPv4 address"
fi
[[ -z "$rpf" || "$rpf" == loose || "$rpf" == off ]] || bad "--rp-filter '$rpf': accepted: loose, off"
[[ -z "$dev" || "$dev" =~ ^[A-Za-z0-9_.:@-]{1,15}$ ]] || bad "--dev '$dev' is not an interface name"
command -v ip >/dev/null || die "'ip' not found: apt-get install iproute2"

devargs=()
[[ -n "$dev" ]] && devargs=(dev "$dev")

rp_note() {
  local all ifv eff in_if=$1
  all=$(sysctl -n net.ipv4.conf.all.rp_filter 2>/dev/null || echo '?')
  ifv='?'
  [[ -n "$in_if" ]] && ifv=$(sysctl -n "net.ipv4.conf.${in_if//./\/}.rp_filter" 2>/dev/null || echo '?')
  eff=$all
  [[ "$ifv" =~ ^[0-9]$ && "$all" =~ ^[0-9]$ ]] && eff=$((all > ifv ? all : ifv))
  echo "rp_filter: all=$all${in_if:+ $in_if=$ifv} (effective $eff; 0 off, 1 strict, 2 loose)"
  if [[ "$eff" == 1 ]]; then
    echo "note: strict rp_filter drops client packets that arrive on another interface than the route back to them;" \
      "if the copier's packets do not come in on ${in_if:-the interface of that route}, re-run with --rp-filter loose"
  fi
}

case "$action" in
  add)
    for c in "${cidrs[@]}"; do
      out=$(ip route replace "$c" via "$via" "${devargs[@]}" 2>&1) ||
        die "cannot add the route $c via $via: $out (is $via on a directly connected network? see: ip route get $via)"
      echo "route: $(ip route show exact "$c" | grep -F "via $via" | head -1)"
    done
    in_if=$dev
    [[ -n "$in_if" ]] || in_if=$(ip -o route get "$via" 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -1)
    if [[ -n "$rpf" ]]; then
      val=2; [[ "$rpf" == off ]] && val=0
      sysctl -qw "net.ipv4.conf.all.rp_filter=$val"
      [[ -n "$in_if" ]] && sysctl -qw "net.ipv4.conf.${in_if//./\/}.rp_filter=$val"
    fi
    rp_note "$in_if"
    ;;
  del)
    for c in "${cidrs[@]}"; do
      if ip route show exact "$c" | grep -qF "via $via"; then
        ip route del "$c" via "$via" "${devargs[@]}" || die "cannot delete the route $c via $via"
        echo "deleted: $c via $via"
      else
        echo "absent:  $c via $via"
      fi
    done
    ;;
  status)
    missing=0
    for c in "${cidrs[@]}"; do
      r=$(ip route show exact "$c")
      if [[ -n "$r" ]]; then echo "route $c: $r"; else echo "route $c: MISSING"; missing=1; fi
      probe=${c%/*}; [[ "$probe" == default ]] && probe=1.1.1.1
      echo "  ip route get $probe: $(ip -o route get "$probe" 2>&1 | head -1)"
    done
    rp_note "$dev"
    ((missing == 0)) || exit 3
    ;;
esac
