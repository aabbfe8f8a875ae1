#!/usr/bin/env bash
# The fault stage: playbooks/site.yml SIGKILLed at task boundaries on a private lab, then
# run again until it converges (tests/fault/test_fault_site.py explains the points).
# Usage: bash tests/fault/run.sh [--all] [pytest options]
#   default  the CI subset: every boundary of vault_unseal (key custody) plus 4 boundaries
#            sampled from the other roles (seed printed); VAULTKUBE_FAULT_FULL_ROLES=a,b
#            names other roles to try in full
#   --all    the full sweep: one kill point per class of every boundary of site.yml
# Needs root (the lab inventory creates a system user).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ "${1:-}" = "--all" ]; then
  export VAULTKUBE_FAULT_ALL=1
  shift
fi
bash "$repo/tests/setup.sh" >/dev/null
# shellcheck disable=SC1090
source "$(bash "$repo/tests/setup.sh" --print-env)"
bash "$repo/tests/lab/build.sh"

junit=()
[ -d "$VAULTKUBE_CACHE/results" ] && junit=(--junitxml="$VAULTKUBE_CACHE/results/fault.xml")
start=$(date +%s)
rc=0
python -m pytest -q -s -p no:cacheprovider "$here/test_fault_site.py" "${junit[@]}" "$@" || rc=$?
echo "fault: $(( $(date +%s) - start )) s, pytest exit $rc"
exit "$rc"
