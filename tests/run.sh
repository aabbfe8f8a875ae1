#!/usr/bin/env bash
# The project's test command: bash tests/run.sh [stage ...]
# Stages (default: all, in this order): unit integration build sanity bench lab roles e2e fleet bench_eso fault node cluster vault
# Each stage runs even when an earlier one failed; the exit code is non-zero if any failed.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1

bash tests/setup.sh || exit 1
# shellcheck disable=SC1090
source "$(bash tests/setup.sh --print-env)"

results=$VAULTKUBE_CACHE/results
rm -rf "$results"
mkdir -p "$results"
failed_stages=()
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(unit integration build sanity bench lab roles e2e fleet bench_eso fault node cluster vault)

# The lab's Go builds take minutes on a cold machine and need the CPU, while the Vault
# tests mostly wait on the network: start the build now, in the background. The
# control plane is built first (the lab, roles and e2e stages wait for it), then,
# for the node stage, the node's binaries and images (each binary is built once).
lab_build_pid=
node_build=0
case " ${stages[*]} " in *" node "*|*" cluster "*) node_build=1 ;; esac
# The node's Debian packages (containerd, runc, CNI plugins, busybox-static for
# its images, iptables), installed when missing.
if [ "$node_build" = 1 ] && ! bash tests/lab/node-deps.sh; then
  echo "tests/lab/node-deps.sh failed (root and apt-get needed): the node stage will fail"
fi
case " ${stages[*]} " in
  *" lab "*|*" node "*|*" roles "*|*" e2e "*|*" fleet "*|*" fault "*|*" cluster "*)
    (
      rc=0
      bash tests/lab/build.sh > "$results/lab-build.log" 2>&1 || rc=$?
      echo "$rc" > "$results/lab-build.rc"
      if [ "$rc" = 0 ] && [ "$node_build" = 1 ]; then
        rc=0
        bash tests/lab/build.sh node coredns reloader images > "$results/node-build.log" 2>&1 || rc=$?
        echo "$rc" > "$results/node-build.rc"
      fi
    ) &
    lab_build_pid=$!
    ;;
esac

# HashiCorp Vault (about 20 minutes of compiling on an empty Go cache) is built beside all of
# that at the lowest CPU priority, so that it takes only what the other builds and the tests
# leave; its stage runs last.
vault_build_pid=
case " ${stages[*]} " in
  *" vault "*)
    (
      rc=0
      nice -n 19 bash tests/lab/build.sh vault > "$results/vault-build.log" 2>&1 || rc=$?
      echo "$rc" > "$results/vault-build.rc"
    ) &
    vault_build_pid=$!
    ;;
esac

wait_vault_build() {
  [ -n "$vault_build_pid" ] && wait "$vault_build_pid"
  vault_build_pid=
  [ -f "$results/vault-build.log" ] && tail -n 3 "$results/vault-build.log"
  [ "$(cat "$results/vault-build.rc" 2>/dev/null)" = 0 ]
}

wait_lab_build() {
  [ -n "$lab_build_pid" ] || return 0
  while [ ! -f "$results/lab-build.rc" ] && kill -0 "$lab_build_pid" 2>/dev/null; do sleep 2; done
  if [ -f "$results/lab-build.log" ] && [ ! -f "$results/lab-build.shown" ]; then
    cat "$results/lab-build.log"
    touch "$results/lab-build.shown"
  fi
  [ "$(cat "$results/lab-build.rc" 2>/dev/null)" = 0 ]
}

wait_node_build() {
  wait_lab_build || return 1
  [ -n "$lab_build_pid" ] && wait "$lab_build_pid"
  lab_build_pid=
  if [ -f "$results/node-build.log" ] && [ ! -f "$results/node-build.shown" ]; then
    cat "$results/node-build.log"
    touch "$results/node-build.shown"
  fi
  [ "$(cat "$results/node-build.rc" 2>/dev/null)" = 0 ]
}

stage_unit() {
  python -m pytest -q tests/unit --junitxml="$results/unit.xml"
}

stage_integration() {
  # Two workers: the tests mostly wait on their servers (about 1.5x faster on 2 cores).
  (cd tests/integration && python -m pytest -q -n 2 . --junitxml="$results/integration.xml")
}

stage_build() {
  # The collection builds, installs, and every plugin's documentation renders.
  local work
  work=$(mktemp -d)
  ansible-galaxy collection build --output-path "$work" . >/dev/null || return 1
  ansible-galaxy collection install --no-deps -p "$work/installed" "$work"/vaultkube-platform-*.tar.gz >/dev/null || return 1
  local rc=0 plugin kind
  for plugin in plugins/modules/*.py plugins/filter/*.py plugins/lookup/*.py; do
    kind=$(basename "$(dirname "$plugin")")
    kind=${kind%s}
    plugin=$(basename "$plugin" .py)
    if ANSIBLE_COLLECTIONS_PATH="$work/installed" ansible-doc -t "$kind" "vaultkube.platform.$plugin" >/dev/null 2>"$work/doc.err"; then
      echo "ansible-doc -t $kind vaultkube.platform.$plugin: ok"
    else
      echo "ansible-doc -t $kind vaultkube.platform.$plugin: FAILED"; cat "$work/doc.err"; rc=1
    fi
  done
  rm -rf "$work"
  return $rc
}

stage_sanity() {
  bash tests/sanity.sh
}

stage_bench() {
  # Smoke run of the benchmark: its table and ratios are printed, not asserted as timings.
  python tests/bench/bench_vault_config.py --sizes 100
}

stage_lab() {
  wait_lab_build || return 1
  bash tests/lab/ci.sh
}

stage_node() {
  wait_node_build || return 1
  # A worker node in a private lab: pods from local images, DNS, the API server
  # from pods, the Vault chart in HA raft, and a clean teardown (needs root).
  bash tests/lab/ci.sh node
}

stage_roles() {
  wait_lab_build || return 1
  # ansible-lint (production profile), argument specs, every molecule scenario on the lab.
  bash tests/roles/run.sh --fresh
}

stage_e2e() {
  wait_lab_build || return 1
  bash tests/e2e/run.sh
}

stage_fleet() {
  wait_lab_build || return 1
  # site.yml with inventory/lab-fleet: one OpenBao, three lab clusters (own CA and issuer each).
  bash tests/e2e/run.sh --fleet
}

stage_bench_eso() {
  wait_lab_build || return 1
  # Smoke run of the eso_deploy benchmark on the shared lab (N=10 and 100; the README's
  # figures include N=500): ratios and write counts printed, not asserted as timings.
  python tests/bench/bench_eso_deploy.py --sizes 10 100
}

stage_fault() {
  wait_lab_build || return 1
  # The CI subset: every kill-point class of vault_unseal and vault_kubernetes_auth plus four
  # sampled boundaries of the other roles (seed printed); `bash tests/fault/run.sh --all` is
  # the full sweep.
  bash tests/fault/run.sh
}

stage_cluster() {
  wait_node_build || return 1
  # site.yml with Vault and ESO as pods (inventory/lab-cluster) on a lab with a node.
  bash tests/e2e/run.sh --cluster
}

stage_vault() {
  wait_vault_build || return 1
  # The integration suite again, on HashiCorp Vault (tests that hold for one server only say
  # which and why, and are reported skipped on the other).
  local rc=0
  (cd tests/integration && VAULTKUBE_TEST_SERVER=vault python -m pytest -q -n 2 -rs . \
    --junitxml="$results/integration-vault.xml") || rc=1
  wait_lab_build || return 1
  # site.yml on Vault (inventory/lab, the external topology).
  bash tests/e2e/run.sh --vault || rc=1
  # ... and inside the cluster (inventory/lab-cluster on a lab with a node): the chart's pods
  # run the image built from the same Vault binary.
  if [ "$node_build" = 1 ]; then wait_node_build || return 1; fi
  bash tests/e2e/run.sh --cluster-vault || rc=1
  return $rc
}

# The fault stage (a private lab without a node, about 20 minutes) runs beside the node and
# cluster stages (the lab with a node) when all three are asked for: they share no lab, and
# the wall time of the three is then close to the longest instead of their sum.
fault_beside=0
case " ${stages[*]} " in *" fault "*" node "*|*" fault "*" cluster "*) fault_beside=1 ;; esac
fault_pid=
fault_start=0
for stage in "${stages[@]}"; do
  if [ "$stage" = fault ] && [ "$fault_beside" = 1 ]; then
    echo "=== stage: fault (in the background, beside node and cluster; output at the end) ==="
    fault_start=$(date +%s)
    stage_fault >"$results/fault-stage.log" 2>&1 &
    fault_pid=$!
    continue
  fi
  echo "=== stage: $stage ==="
  start=$(date +%s)
  if "stage_$stage"; then
    echo "=== stage $stage passed in $(( $(date +%s) - start ))s ==="
  else
    echo "=== stage $stage FAILED after $(( $(date +%s) - start ))s ==="
    failed_stages+=("$stage")
  fi
done
if [ -n "$fault_pid" ]; then
  echo "=== stage: fault (waiting for the background run) ==="
  fault_rc=0
  wait "$fault_pid" || fault_rc=$?
  cat "$results/fault-stage.log"
  if [ "$fault_rc" = 0 ]; then
    echo "=== stage fault passed in $(( $(date +%s) - fault_start ))s ==="
  else
    echo "=== stage fault FAILED after $(( $(date +%s) - fault_start ))s ==="
    failed_stages+=(fault)
  fi
fi

# One closing line counting every test case of every pytest stage.
python - "$results" <<'PY'
import glob, sys
import xml.etree.ElementTree as ET
passed = failed = skipped = 0
for path in glob.glob(sys.argv[1] + '/*.xml'):
    for suite in ET.parse(path).getroot().iter('testsuite'):
        tests, fail = int(suite.get('tests', 0)), int(suite.get('failures', 0)) + int(suite.get('errors', 0))
        skip = int(suite.get('skipped', 0))
        passed += tests - fail - skip
        failed += fail
        skipped += skip
print('tests: %d passed, %d failed, %d skipped' % (passed, failed, skipped))
PY

if [ ${#failed_stages[@]} -gt 0 ]; then
  echo "FAILED stages: ${failed_stages[*]}"
  exit 1
fi
echo "all stages passed: ${stages[*]}"
