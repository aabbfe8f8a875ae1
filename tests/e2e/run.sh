#!/usr/bin/env bash
# The end-to-end stages:
#   bash tests/e2e/run.sh [pytest options]            site.yml with inventory/lab (Vault outside
#                                                      the cluster) on a private lab (~5 min)
#   bash tests/e2e/run.sh --cluster [pytest options]  site.yml with inventory/lab-cluster (Vault
#                                                      and ESO as pods) on a lab with a node
#   bash tests/e2e/run.sh --vault [pytest options]    site.yml with inventory/lab on HashiCorp Vault
#                                                      (tests/lab/build.sh vault) instead of OpenBao
#   bash tests/e2e/run.sh --cluster-vault [...]       the --cluster flow with HashiCorp Vault's image
#                                                      (tests/lab/build.sh vault-image) in the pods
#   bash tests/e2e/run.sh --fleet [pytest options]    site.yml with inventory/lab-fleet: one OpenBao,
#                                                      three lab clusters (tests/lab/fleet.sh)
# Both need root. The cluster test starts its own lab with a node, or uses the one
# VAULTKUBE_E2E_NODE_LAB_HOME names (only one lab with a node can run on a machine).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

test_file=test_site_flow.py
junit_name=e2e
build_args=()
if [ "${1:-}" = --vault ]; then
  shift
  test_file=test_site_vault.py
  junit_name=e2e-vault
elif [ "${1:-}" = --fleet ]; then
  shift
  test_file=test_fleet_flow.py
  junit_name=e2e-fleet
elif [ "${1:-}" = --cluster ]; then
  shift
  test_file=test_cluster_flow.py
  junit_name=e2e-cluster
  build_args=(node coredns reloader images)
  export LAB_NODE=1 VAULTKUBE_TEST_SERVER=openbao
elif [ "${1:-}" = --cluster-vault ]; then
  shift
  test_file=test_cluster_flow.py
  junit_name=e2e-cluster-vault
  build_args=(node coredns reloader images vault-image)
  export LAB_NODE=1 VAULTKUBE_TEST_SERVER=vault
fi

bash "$repo/tests/setup.sh" >/dev/null
# shellcheck disable=SC1090
source "$(bash "$repo/tests/setup.sh" --print-env)"

start=$(date +%s)
bash "$repo/tests/lab/build.sh"
[ ${#build_args[@]} -eq 0 ] || bash "$repo/tests/lab/build.sh" "${build_args[@]}"
echo "lab binaries: $(( $(date +%s) - start )) s"

junit=()
[ -d "$VAULTKUBE_CACHE/results" ] && junit=(--junitxml="$VAULTKUBE_CACHE/results/$junit_name.xml")
start=$(date +%s)
rc=0
python -m pytest -q -p no:cacheprovider "$here/$test_file" "${junit[@]}" "$@" || rc=$?
echo "$junit_name: $(( $(date +%s) - start )) s, pytest exit $rc"
exit "$rc"
