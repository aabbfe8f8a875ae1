#!/usr/bin/env bash
# The end-to-end stage: playbooks/site.yml on a private lab instance (its own
# API server, ESO controller and OpenBao), read back from Vault and Kubernetes.
# Usage: bash tests/e2e/run.sh [pytest options]   (needs root; ~8 minutes on 2 cores)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

bash "$repo/tests/setup.sh" >/dev/null
# shellcheck disable=SC1090
source "$(bash "$repo/tests/setup.sh" --print-env)"

start=$(date +%s)
bash "$repo/tests/lab/build.sh"
echo "lab binaries: $(( $(date +%s) - start )) s"

junit=()
[ -d "$VAULTKUBE_CACHE/results" ] && junit=(--junitxml="$VAULTKUBE_CACHE/results/e2e.xml")
start=$(date +%s)
rc=0
python -m pytest -q -p no:cacheprovider "$here/test_site_flow.py" "${junit[@]}" "$@" || rc=$?
echo "e2e: $(( $(date +%s) - start )) s, pytest exit $rc"
exit "$rc"
