#!/usr/bin/env bash
# Install what the lab's node needs from Debian, when missing: containerd,
# runc, the CNI plugins (in /usr/lib/cni), busybox-static (the shell of the
# OpenBao image) and iptables. Versions are pinned in versions.env; Debian's
# archive keeps only the current version of a package, so when a pin is no
# longer available the current one is installed and reported.
#
# Usage: tests/lab/node-deps.sh          (needs root and apt-get; no-op when all present)
set -euo pipefail
# shellcheck source=versions.env
. "$(dirname "${BASH_SOURCE[0]}")/versions.env"

pkgs=(
  "containerd=$LAB_DEB_CONTAINERD"
  "runc=$LAB_DEB_RUNC"
  "containernetworking-plugins=$LAB_DEB_CNI_PLUGINS"
  "busybox-static=$LAB_DEB_BUSYBOX_STATIC"
  "iptables=$LAB_DEB_IPTABLES"
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f '${Status}' "${p%%=*}" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || { echo "[lab] missing ${missing[*]} and no apt-get" >&2; exit 1; }
  [ "$(id -u)" = 0 ] || { echo "[lab] missing ${missing[*]}: run $0 as root" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  echo "[lab] installing ${missing[*]}"
  apt-get update -qq
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "[lab] pinned versions not available; installing Debian's current ones" >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]%%=*}" >/dev/null
  fi
fi
for p in "${pkgs[@]}"; do
  have=$(dpkg-query -W -f '${Version}' "${p%%=*}")
  [ "$have" = "${p#*=}" ] || echo "[lab] note: ${p%%=*} $have installed (verified with ${p#*=})"
done
# The system service is not used: the lab runs its own containerd with its
# own configuration, socket and state directories.
