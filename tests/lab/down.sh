#!/usr/bin/env bash
# Stop the lab (ESO controller process, the node if there is one,
# kube-controller-manager, kube-apiserver, etcd). Idempotent. With --purge
# also delete the lab state: etcd data, certificates, keys and kubeconfigs
# (binaries and the chart stay cached).
#
# The node leaves nothing behind: no process (pods included), no mount under
# its directory, no bridge/veth/dummy interface, no KUBE-*/CNI-* chain or
# rule in iptables or ip6tables, and every sysctl it changed restored.
#
# Usage: tests/lab/down.sh [--purge]
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=node.sh
. "$LAB_DIR/node.sh"

PURGE=0
for a in "$@"; do
  case "$a" in
    --purge) PURGE=1 ;;
    *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
  esac
done

lab_stop eso-controller external-secrets
node_down
lab_stop kube-controller-manager
lab_stop kube-apiserver
lab_stop etcd
node_release

if [ "$PURGE" = 1 ]; then
  rm -rf "$LAB_STATE" "$LAB_KUBECONFIG" "$LAB_LOGS" "$LAB_HOME/instance.env"
  lab_log "purged $LAB_STATE, $LAB_LOGS and $LAB_KUBECONFIG"
fi
lab_log "lab is down"
