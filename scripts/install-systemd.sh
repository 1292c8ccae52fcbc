#!/usr/bin/env bash
# Installs (or removes) tcpcopy-ts as systemd services. Starts nothing unless asked.
#
#   install-systemd.sh install   [--prefix DIR] [--root DIR] [--node PATH] [--no-user] [--start]
#   install-systemd.sh uninstall [--prefix DIR] [--root DIR] [--purge]
#
# install: copies the built program (dist/, production node_modules, the NFQUEUE addon, the rule
#   scripts) to PREFIX (default /opt/tcpcopy-ts), wrappers intercept and tcpcopy to /usr/local/bin, the units intercept.service and tcpcopy@.service
#   to /etc/systemd/system, the example configuration to /etc/tcpcopy/ (intercept.env and
#   example.env, never overwriting existing files), and creates the system user "tcpcopy".
#   --start also enables and starts intercept.service.
# uninstall: stops and disables the units, removes them and PREFIX; --purge also removes
#   /etc/tcpcopy and the user.
# --root DIR installs into DIR as if it were / (packaging, tests); then no user is created and
#   systemctl is not called. Build first: npm ci && npm run build.
set -euo pipefail
cd "$(dirname "$0")/.."
prog=$(basename "$0")
bad() { echo "$prog: $*" >&2; exit 2; }
die() { echo "$prog: $*" >&2; exit 1; }

[[ $# -ge 1 ]] || bad "usage: $prog install|uninstall [--prefix DIR] [--root DIR] [--node PATH] [--no-user] [--start] [--purge]"
action=$1; shift
prefix=/opt/tcpcopy-ts root='' node_bin='' make_user=1 start=0 purge=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix) [[ $# -ge 2 ]] || bad "--prefix needs a directory"; prefix=$2; shift 2 ;;
    --root) [[ $# -ge 2 ]] || bad "--root needs a directory"; root=$2; shift 2 ;;
    --node) [[ $# -ge 2 ]] || bad "--node needs a path"; node_bin=$2; shift 2 ;;
    --no-user) make_user=0; shift ;;
    --start) start=1; shift ;;
    --purge) purge=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) bad "unknown option '$1'" ;;
  esac
done
[[ "$prefix" == /* ]] || bad "--prefix '$prefix': expected an absolute path"
[[ -z "$root" || "$root" == /* ]] || bad "--root '$root': expected an absolute path"
root=${root%/}
[[ -n "$node_bin" ]] || node_bin=$(command -v node || true)
[[ -n "$node_bin" && "$node_bin" == /* ]] || die "node not found (give --node /path/to/node)"

# systemctl only for the real root and when systemd runs (not in containers or with --root).
systemd_up() { [[ -z "$root" && -d /run/systemd/system ]] && command -v systemctl >/dev/null; }
unitdir=$root/etc/systemd/system
confdir=$root/etc/tcpcopy
dest=$root$prefix

case "$action" in
  install)
    [[ $(id -u) -eq 0 || -n "$root" ]] || die "run as root (or use --root DIR)"
    [[ -f dist/src/cli/intercept.js && -f dist/src/cli/tcpcopy.js ]] || die "not built: run 'npm ci && npm run build' first"
    [[ -d node_modules ]] || die "node_modules missing: run 'npm ci' first"
    mkdir -p "$dest" "$unitdir" "$confdir"
    rm -rf "$dest/dist" "$dest/node_modules"
    cp -a dist "$dest/"
    # Production dependencies only (top-level package directories; nested ones come along).
    mapfile -t pkgs < <(npm ls --omit=dev --all --parseable 2>/dev/null | sed -n "s|^$PWD/||p" | grep -E '^node_modules/(@[^/]+/)?[^/]+$' | sort -u)
    ((${#pkgs[@]} > 0)) || die "npm ls found no production dependencies (run 'npm ci')"
    for p in "${pkgs[@]}"; do
      mkdir -p "$dest/$(dirname "$p")"
      cp -a "$p" "$dest/$(dirname "$p")/"
    done
    cp package.json README.md "$dest/"
    mkdir -p "$dest/scripts"
    install -m 0755 scripts/intercept-rules.sh scripts/route-setup.sh "$dest/scripts/"
    # The project's addons: nfq (intercept's NFQUEUE), rawsend (tcpcopy's batched raw sends) and
    # pcapbatch (batched live capture), pktstat (the cap fallback's kernel drops); without them the
    # programs fall back or count less.
    for a in nfq rawsend pcapbatch pktstat; do
      if [[ -f src/native/$a/build/Release/$a.node ]]; then
        mkdir -p "$dest/src/native/$a/build/Release"
        cp -a "src/native/$a/build/Release/$a.node" "$dest/src/native/$a/build/Release/"
      fi
    done
    for u in intercept.service tcpcopy@.service; do
      sed -e "s|@PREFIX@|$prefix|g" -e "s|@NODE@|$node_bin|g" "systemd/$u" >"$unitdir/$u"
      chmod 0644 "$unitdir/$u"
    done
    # Command wrappers, so operators type `intercept --check` / `tcpcopy -h`.
    mkdir -p "$root/usr/local/bin"
    for c in intercept tcpcopy; do
      # The same Node flags as the CLIs' shebang and the units (test/unit/ops/node-flags.test.ts).
      flags=--max-semi-space-size=4
      [[ $c == intercept ]] && flags=--max-semi-space-size=1
      printf '#!/bin/sh\n# tcpcopy-ts wrapper (install-systemd.sh)\nexec %s %s %s/dist/src/cli/%s.js "$@"\n' "$node_bin" "$flags" "$prefix" "$c" >"$root/usr/local/bin/$c"
      chmod 0755 "$root/usr/local/bin/$c"
    done
    [[ -e "$confdir/intercept.env" ]] || install -m 0644 systemd/intercept.env.example "$confdir/intercept.env"
    [[ -e "$confdir/example.env" ]] || install -m 0644 systemd/tcpcopy.env.example "$confdir/example.env"
    [[ -e "$confdir/live-example.env" ]] || install -m 0644 systemd/tcpcopy@live.env.example "$confdir/live-example.env"
    if ((make_user)) && [[ -z "$root" ]] && ! getent passwd tcpcopy >/dev/null; then
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group tcpcopy
      echo "created system user tcpcopy"
    fi
    echo "installed to $dest; units in $unitdir; configuration in $confdir"
    if systemd_up; then
      systemctl daemon-reload
      if ((start)); then systemctl enable --now intercept.service; systemctl --no-pager status intercept.service || true; fi
    elif ((start)); then
      echo "$prog: systemd is not running here; not started" >&2
    fi
    echo "next: edit $confdir/intercept.env, then: systemctl enable --now intercept"
    echo "      copier: cp $confdir/example.env (a capture file) or $confdir/live-example.env (live) $confdir/NAME.env, edit, systemctl start tcpcopy@NAME"
    ;;
  uninstall)
    [[ $(id -u) -eq 0 || -n "$root" ]] || die "run as root (or use --root DIR)"
    if systemd_up; then
      systemctl disable --now intercept.service 2>/dev/null || true
      for u in $(systemctl list-units --plain --no-legend 'tcpcopy@*' 2>/dev/null | awk '{print $1}'); do systemctl disable --now "$u" || true; done
    fi
    rm -f "$unitdir/intercept.service" "$unitdir/tcpcopy@.service"
    for c in intercept tcpcopy; do
      if grep -qs 'tcpcopy-ts wrapper' "$root/usr/local/bin/$c"; then rm -f "$root/usr/local/bin/$c"; fi
    done
    # Only remove PREFIX if it is ours (holds our CLI), never an arbitrary directory.
    if [[ -f "$dest/dist/src/cli/intercept.js" ]]; then rm -rf "$dest"; echo "removed $dest"; fi
    systemd_up && systemctl daemon-reload
    if ((purge)); then
      rm -rf "$confdir"
      [[ -z "$root" ]] && getent passwd tcpcopy >/dev/null && userdel tcpcopy && echo "removed user tcpcopy"
    else
      echo "kept $confdir (use --purge to remove it and the tcpcopy user)"
    fi
    ;;
  *) bad "unknown action '$action' (accepted: install, uninstall)" ;;
esac
