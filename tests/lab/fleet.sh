#!/usr/bin/env bash
# shellcheck disable=SC2030,SC2031  # each instance gets its variables in its own subshell
# Several lab clusters side by side: each one a lab instance of its own (tests/lab/up.sh
# with another VAULTKUBE_LAB_HOME), with its own etcd, ports, CA, ServiceAccount signing
# key and issuer; the binaries and the ESO chart stay shared. No node (loopback only).
#
# Usage:
#   tests/lab/fleet.sh up NAME...       start (or leave healthy) one instance per NAME, in parallel
#   tests/lab/fleet.sh down [--purge] NAME...   stop them (and delete their state)
#   tests/lab/fleet.sh home NAME        print the instance folder of NAME
#   tests/lab/fleet.sh exec HOME CMD... run CMD with the lab variables of the instance in HOME only
#                                       (every LAB_* of the caller's environment dropped first)
#
# Instance folder: $LAB_FLEET_HOME/NAME (default ${VAULTKUBE_CACHE:-~/.cache/vaultkube}/lab/fleet).
# Ports: the Nth NAME (1-based) of an `up` call gets LAB_FLEET_PORT_BASE + 10*N + 0..5 for
# etcd client, etcd peer, API server, controller-manager, ESO metrics, ESO health (default
# base 52000: 52010-52015, 52020-52025, ...). The issuer is https://NAME.fleet.vaultkube.lab.
# Once up, an instance's ports are in its instance.env: `fleet.sh exec` and
# `VAULTKUBE_LAB_HOME=<home> source tests/lab/env.sh` find them there.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${VAULTKUBE_CACHE:-$HOME/.cache/vaultkube}
fleet_home=${LAB_FLEET_HOME:-$cache/lab/fleet}
port_base=${LAB_FLEET_PORT_BASE:-52000}

usage() { sed -n '7,13p' "$0" >&2; exit 2; }
log() { printf '[lab-fleet] %s\n' "$*"; }

# clean_env: the environment without any LAB_* variable (the instance's own come from
# its instance.env through lib.sh) and without VAULTKUBE_LAB_HOME.
clean_env() {
  local v
  for v in $(compgen -e); do
    case "$v" in LAB_*|VAULTKUBE_LAB_HOME|KUBECONFIG) unset "$v" ;; esac
  done
}

check_name() {
  [[ "$1" =~ ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ ]] || { echo "fleet.sh: bad cluster name '$1' (DNS label)" >&2; exit 2; }
}

cmd=${1:-}
[ -n "$cmd" ] || usage
shift
case "$cmd" in
  up)
    [ $# -gt 0 ] || usage
    bash "$here/build.sh" >/dev/null
    i=0
    pids=()
    names=()
    for name in "$@"; do
      check_name "$name"
      i=$((i + 1))
      p=$((port_base + 10 * i))
      mkdir -p "$fleet_home/$name"
      (
        clean_env
        export VAULTKUBE_CACHE=$cache VAULTKUBE_LAB_HOME=$fleet_home/$name LAB_NODE=0
        export LAB_ETCD_CLIENT_PORT=$p LAB_ETCD_PEER_PORT=$((p + 1)) LAB_APISERVER_PORT=$((p + 2))
        export LAB_KCM_PORT=$((p + 3)) LAB_ESO_METRICS_PORT=$((p + 4)) LAB_ESO_HEALTH_PORT=$((p + 5))
        export LAB_SA_ISSUER=https://$name.fleet.vaultkube.lab
        bash "$here/up.sh" >"$fleet_home/$name/up.log" 2>&1
      ) &
      pids+=($!)
      names+=("$name")
    done
    rc=0
    for k in "${!pids[@]}"; do
      if wait "${pids[$k]}"; then
        log "${names[$k]}: $(grep -E -m1 'lab is up|already up' "$fleet_home/${names[$k]}/up.log" | sed 's/^\[lab\] //')"
      else
        rc=1
        log "${names[$k]}: up.sh FAILED"; cat "$fleet_home/${names[$k]}/up.log" >&2
      fi
    done
    exit "$rc"
    ;;
  down)
    purge=()
    if [ "${1:-}" = --purge ]; then purge=(--purge); shift; fi
    [ $# -gt 0 ] || usage
    for name in "$@"; do
      check_name "$name"
      [ -d "$fleet_home/$name" ] || continue
      ( clean_env; export VAULTKUBE_CACHE=$cache VAULTKUBE_LAB_HOME=$fleet_home/$name
        bash "$here/down.sh" "${purge[@]}" >/dev/null ) || log "$name: down.sh failed"
      [ ${#purge[@]} -eq 0 ] || rm -rf "${fleet_home:?}/$name"
      log "$name: down"
    done
    ;;
  home)
    [ $# -eq 1 ] || usage
    check_name "$1"
    echo "$fleet_home/$1"
    ;;
  exec)
    [ $# -ge 2 ] || usage
    home=$1
    shift
    [ -f "$home/instance.env" ] || { echo "fleet.sh: no lab instance in $home (run fleet.sh up first)" >&2; exit 1; }
    clean_env
    export VAULTKUBE_CACHE=$cache VAULTKUBE_LAB_HOME=$home
    exec "$@"
    ;;
  *) usage ;;
esac
