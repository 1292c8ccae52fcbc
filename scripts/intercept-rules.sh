#!/usr/bin/env bash
# The NFQUEUE rule(s) intercept needs on the test server, and nothing else.
#
#   intercept-rules.sh add    --port P[,P...] [--queue N] [--out-if IF | --include-lo]
#   intercept-rules.sh del   [--port P[,P...]] [--queue N] [--out-if IF | --include-lo]
#   intercept-rules.sh status [--port P[,P...]] [--queue N]
#
# One rule per service port in the filter table's OUTPUT chain:
#   -p tcp --sport P ! -o lo -m comment --comment "tcpcopy-ts intercept" -j NFQUEUE --queue-num N
# This is byte for byte the rule `intercept --install-rule P` manages (src/io/iptables.ts), so the
# two recognise each other's rules. `add` checks (-C) before inserting (-I), so running it twice
# leaves one rule; `del` removes exactly the rules it would add; `del` without --port removes every
# rule carrying the comment (what systemd's ExecStopPost runs, also after a crash).
#
# Options:
#   --port P[,P...]   service port(s) whose responses are queued (1..65535)
#   --queue N         NFQUEUE number (0..65535, default 0; intercept --queue-num)
#   --out-if IF       queue only responses leaving through IF (instead of "not lo")
#   --exclude-lo      responses over lo are not queued (the default, as intercept's own rule)
#   --include-lo      queue responses on every interface, lo included
#   --iptables BIN    iptables binary (default: $IPTABLES or iptables; e.g. iptables-legacy)
# Exit status: 0 done (status: every asked rule present), 1 failure, 2 bad usage, 3 status: missing.
set -euo pipefail

COMMENT='tcpcopy-ts intercept'
prog=$(basename "$0")

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  echo "run '$prog --help' for the options" >&2
  exit 2
}
help() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
die() { echo "$prog: $*" >&2; exit 1; }
bad() { echo "$prog: $*" >&2; exit 2; }

[[ $# -ge 1 ]] || usage
action=$1
shift
case "$action" in
  add|del|status) ;;
  -h|--help|help) help ;;
  *) bad "unknown action '$action' (accepted: add, del, status)" ;;
esac

ports_arg='' queue=0 out_if='' lo_mode=exclude ipt=${IPTABLES:-iptables}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --port|-p) [[ $# -ge 2 ]] || bad "--port needs a value: --port P[,P...]"; ports_arg=$2; shift 2 ;;
    --port=*) ports_arg=${1#*=}; shift ;;
    --queue|--queue-num) [[ $# -ge 2 ]] || bad "--queue needs a value: --queue N (0..65535)"; queue=$2; shift 2 ;;
    --queue=*|--queue-num=*) queue=${1#*=}; shift ;;
    --out-if) [[ $# -ge 2 ]] || bad "--out-if needs an interface name"; out_if=$2; shift 2 ;;
    --out-if=*) out_if=${1#*=}; shift ;;
    --exclude-lo) lo_mode=exclude; shift ;;
    --include-lo) lo_mode=include; shift ;;
    --iptables) [[ $# -ge 2 ]] || bad "--iptables needs a binary name"; ipt=$2; shift 2 ;;
    --iptables=*) ipt=${1#*=}; shift ;;
    -h|--help) help ;;
    *) bad "unknown option '$1'" ;;
  esac
done

[[ "$queue" =~ ^[0-9]+$ ]] && ((queue <= 65535)) || bad "--queue '$queue': expected a number 0..65535"
ports=()
if [[ -n "$ports_arg" ]]; then
  IFS=',' read -r -a ports <<<"$ports_arg"
  for p in "${ports[@]}"; do
    [[ "$p" =~ ^[0-9]+$ ]] && ((p >= 1 && p <= 65535)) || bad "--port '$ports_arg': '$p' is not a port (1..65535); accepted form: P[,P...]"
    [[ "$p" != 36524 ]] || echo "$prog: warning: port 36524 is intercept's own channel port; queueing it cuts the copier off" >&2
  done
fi
[[ "$action" != add || ${#ports[@]} -gt 0 ]] || bad "add needs --port P[,P...]"
if [[ -n "$out_if" ]]; then
  [[ "$out_if" =~ ^[A-Za-z0-9_.:@-]{1,15}$ ]] || bad "--out-if '$out_if' is not an interface name"
fi

command -v "$ipt" >/dev/null 2>&1 ||
  die "'$ipt' not found. Install it: apt-get install iptables (it provides iptables-nft and iptables-legacy)"

# `-w` waits for the xtables lock instead of failing when another iptables runs.
run() { "$ipt" -w "$@"; }

# The rule for one port, in the argument order intercept uses (src/io/iptables.ts nfqueueRuleSpec).
spec() {
  local port=$1
  local -a iface=()
  if [[ -n "$out_if" ]]; then iface=(-o "$out_if")
  elif [[ "$lo_mode" == exclude ]]; then iface=('!' -o lo)
  fi
  SPEC=(OUTPUT -p tcp --sport "$port" "${iface[@]}" -m comment --comment "$COMMENT" -j NFQUEUE --queue-num "$queue")
}

# Why an iptables call failed, in words an operator can act on.
explain() {
  local err=$1
  if grep -qiE 'permission denied|not permitted|you must be root' <<<"$err"; then
    echo "not allowed to change iptables: run as root (or with CAP_NET_ADMIN)"
  elif grep -qiE 'NFQUEUE|No chain/target/match|Extension .* not supported|Couldn.t load target|unknown option "--queue-num"' <<<"$err"; then
    echo "the NFQUEUE target is not available in this kernel: load it with 'modprobe nfnetlink_queue xt_NFQUEUE'" \
      "(kernel options CONFIG_NETFILTER_NETLINK_QUEUE and CONFIG_NETFILTER_XT_TARGET_NFQUEUE; for iptables-nft also" \
      "CONFIG_NFT_QUEUE and CONFIG_NFT_COMPAT), or try --iptables iptables-legacy"
  elif grep -qiE 'comment' <<<"$err"; then
    echo "the comment match is missing: modprobe xt_comment (CONFIG_NETFILTER_XT_MATCH_COMMENT)"
  else
    echo "$err"
  fi
}

# 0 present, 1 absent; anything else is fatal (iptables itself failed).
check() {
  local out rc=0
  out=$(run -C "${SPEC[@]}" 2>&1) || rc=$?
  if ((rc == 0)); then return 0; fi
  if ((rc == 1)) && ! grep -qiE 'permission denied|not permitted|you must be root|NFQUEUE|No chain/target/match.*NFQUEUE|not supported|load target' <<<"$out"; then
    return 1
  fi
  die "cannot check the rule for port ${SPEC[4]} with $ipt: $(explain "$out")"
}

# Our rules as `iptables -S OUTPUT` prints them (-A ...), one per line.
ours() {
  local out
  out=$(run -S OUTPUT 2>&1) || die "cannot list OUTPUT with $ipt: $(explain "$out")"
  grep -F -- "--comment \"$COMMENT\"" <<<"$out" || true
}

case "$action" in
  add)
    for p in "${ports[@]}"; do
      spec "$p"
      if check; then
        echo "present: ${SPEC[*]}"
        continue
      fi
      out=$(run -I "${SPEC[@]}" 2>&1) || die "cannot insert the rule for port $p with $ipt: $(explain "$out")"
      echo "added:   ${SPEC[*]}"
    done
    ;;
  del)
    if ((${#ports[@]} > 0)); then
      for p in "${ports[@]}"; do
        spec "$p"
        n=0
        # More than one copy can exist (added by hand with -A); remove them all, bounded.
        while ((n < 64)) && check; do
          out=$(run -D "${SPEC[@]}" 2>&1) || die "cannot delete the rule for port $p with $ipt: $(explain "$out")"
          n=$((n + 1))
        done
        if ((n > 0)); then echo "deleted: ${SPEC[*]}"; else echo "absent:  ${SPEC[*]}"; fi
      done
    else
      # Every rule carrying our comment, whatever its port, queue or interface.
      mapfile -t lines < <(ours)
      ((${#lines[@]} > 0)) || echo "no rules tagged \"$COMMENT\" in OUTPUT"
      for line in "${lines[@]}"; do
        [[ -n "$line" ]] || continue
        # -S prints a rule as its -A command; eval re-splits its quoted comment the way it printed it.
        eval "args=(${line#-A })"
        out=$(run -D "${args[@]}" 2>&1) || die "cannot delete '$line' with $ipt: $(explain "$out")"
        echo "deleted: $line"
      done
    fi
    ;;
  status)
    mapfile -t lines < <(ours)
    echo "iptables: $("$ipt" -V 2>/dev/null || echo "$ipt")"
    if ((${#lines[@]} == 0)); then echo "rules tagged \"$COMMENT\" in OUTPUT: none"
    else
      echo "rules tagged \"$COMMENT\" in OUTPUT:"
      printf '  %s\n' "${lines[@]}"
    fi
    # Whether a process has the queue open: /proc lists bound queues (queue number first).
    if [[ -r /proc/net/netfilter/nfnetlink_queue ]]; then
      if awk -v q="$queue" '$1 == q { found = 1 } END { exit !found }' /proc/net/netfilter/nfnetlink_queue; then
        echo "NFQUEUE $queue: bound by a process (intercept running?)"
      else
        echo "NFQUEUE $queue: no process bound (intercept not running)"
      fi
    else
      echo "NFQUEUE: /proc/net/netfilter/nfnetlink_queue missing (nfnetlink_queue not loaded: modprobe nfnetlink_queue)"
    fi
    missing=0
    for p in "${ports[@]}"; do
      spec "$p"
      if check; then echo "port $p: rule present"; else echo "port $p: rule MISSING (add it: $prog add --port $p --queue $queue)"; missing=1; fi
    done
    ((missing == 0)) || exit 3
    ;;
esac
