#!/usr/bin/env bash
# Stop the lab (ESO controller process, kube-controller-manager, kube-apiserver,
# etcd). Idempotent. With --purge also delete the lab state: etcd data,
# certificates, keys and kubeconfigs (binaries and the chart stay cached).
#
# Usage: tests/lab/down.sh [--purge]
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PURGE=0
for a in "$@"; do
  case "$a" in
    --purge) PURGE=1 ;;
    *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
  esac
done

lab_stop eso-controller external-secrets
lab_stop kube-controller-manager
lab_stop kube-apiserver
lab_stop etcd

if [ "$PURGE" = 1 ]; then
  rm -rf "$LAB_STATE" "$LAB_KUBECONFIG" "$LAB_LOGS"
  lab_log "purged $LAB_STATE, $LAB_LOGS and $LAB_KUBECONFIG"
fi
lab_log "lab is down"
