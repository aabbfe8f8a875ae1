#!/usr/bin/env bash
# The project's test command: bash tests/run.sh [STAGE ...] [-- PYTEST_OPTIONS]
# Stages (default: all): unit integration build sanity bench lab roles e2e fleet bench_eso fault node cluster vault
# and, run by vault or alone: vault_integration e2e_vault cluster_vault
# (integration, fleet, fault and the integration suite on Vault run in a background lane beside the others; see docs/testing.md)
# PYTEST_OPTIONS go to every pytest run of the stages given (for example -k NAME, -x).
# Knobs: VAULTKUBE_ROLES_SCENARIOS="vault_install ..." (roles: the molecule scenarios; default every one
# but cluster, which needs the node lab), VAULTKUBE_FAULT_ALL=1 (fault: the full sweep instead of the CI subset).
# Each stage runs even when an earlier one failed; the exit code is non-zero if any failed.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1

stages=()
pytest_opts=()
while [ $# -gt 0 ]; do
  if [ "$1" = -- ]; then
    shift
    pytest_opts=("$@")
    break
  fi
  stages+=("$1")
  shift
done

bash tests/setup.sh || exit 1
# shellcheck disable=SC1090
source "$(bash tests/setup.sh --print-env)"

results=$VAULTKUBE_CACHE/results
rm -rf "$results"
mkdir -p "$results"
failed_stages=()
[ ${#stages[@]} -gt 0 ] || stages=(unit integration build sanity bench lab roles e2e fleet bench_eso fault node cluster vault)

# The lab's Go builds take minutes on a cold machine and need the CPU, while the Vault
# tests mostly wait on the network: start the build now, in the background. The
# control plane is built first (the lab, roles and e2e stages wait for it), then,
# for the node stage, the node's binaries and images (each binary is built once).
lab_build_pid=
node_build=0
case " ${stages[*]} " in *" node "*|*" cluster "*|*" cluster_vault "*|*" vault "*) node_build=1 ;; esac
# The node's Debian packages (containerd, runc, CNI plugins, busybox-static for
# its images, iptables), installed when missing.
if [ "$node_build" = 1 ] && ! bash tests/lab/node-deps.sh; then
  echo "tests/lab/node-deps.sh failed (root and apt-get needed): the node stage will fail"
fi
case " ${stages[*]} " in
  *" lab "*|*" node "*|*" roles "*|*" e2e "*|*" fleet "*|*" fault "*|*" cluster "*|*" bench_eso "*|*" vault "*|*" e2e_vault "*|*" cluster_vault "*)
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
  *" vault "*|*" vault_integration "*|*" e2e_vault "*|*" cluster_vault "*)
    (
      rc=0
      nice -n 19 bash tests/lab/build.sh vault > "$results/vault-build.log" 2>&1 || rc=$?
      echo "$rc" > "$results/vault-build.rc"
    ) &
    vault_build_pid=$!
    ;;
esac

# The builds run in a background subshell; any lane (the main shell or the background lane
# below) waits for one by polling the exit code file it writes.
wait_rc_file() {
  while [ ! -f "$results/$1.rc" ]; do
    # The build subshell has ended without writing this file (an earlier build failed).
    if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null && [ ! -f "$results/$1.rc" ]; then return 1; fi
    sleep 2
  done
  [ "$(cat "$results/$1.rc")" = 0 ]
}

show_log_once() {
  if [ -f "$results/$1.log" ] && mkdir "$results/$1.shown" 2>/dev/null; then
    cat "$results/$1.log"
  fi
}

wait_vault_build() {
  [ -n "$vault_build_pid" ] || return 1
  local rc=0
  wait_rc_file vault-build "$vault_build_pid" || rc=1
  [ -f "$results/vault-build.log" ] && tail -n 3 "$results/vault-build.log"
  return $rc
}

wait_lab_build() {
  [ -n "$lab_build_pid" ] || return 0
  local rc=0
  wait_rc_file lab-build "$lab_build_pid" || rc=1
  show_log_once lab-build
  return $rc
}

wait_node_build() {
  wait_lab_build || return 1
  local rc=0
  wait_rc_file node-build "$lab_build_pid" || rc=1
  show_log_once node-build
  return $rc
}

# run_pytest JUNIT PYTEST_ARGS...: one pytest run of a stage, its JUnit file in the results folder,
# with the options given to this script after --.
run_pytest() {
  local junit=$1
  shift
  python -m pytest -q -p no:cacheprovider "$@" --junitxml="$results/$junit.xml" ${pytest_opts[@]+"${pytest_opts[@]}"}
}

stage_unit() {
  run_pytest unit tests/unit
}

# integration_suite SERVER WORKERS: the integration suite on one server. The tests mostly wait
# on their servers (about 1.5x faster with two workers on 2 cores); --dist loadfile keeps a
# file's tests (and its module-scoped server) on one worker.
integration_suite() {
  local server=$1 workers=$2 junit=integration
  [ "$server" = openbao ] || junit=integration-$server
  VAULTKUBE_TEST_SERVER=$server run_pytest "$junit" -rs -n "$workers" --dist loadfile tests/integration
}

stage_integration() {
  integration_suite openbao 2
}

stage_build() {
  # The collection builds, installs, and every plugin's documentation renders from the
  # installed copy (PYTHONPATH, which env.sh points at the checkout, is left out so that
  # the checkout is not what ansible-galaxy and ansible-doc find); then an execution
  # environment takes the built collection with its needs (build_ee).
  local work
  work=$(mktemp -d)
  ansible-galaxy collection build --output-path "$work" . >/dev/null || return 1
  env -u PYTHONPATH ANSIBLE_COLLECTIONS_PATH="$work/installed" \
    ansible-galaxy collection install --no-deps -p "$work/installed" "$work"/vaultkube-platform-*.tar.gz >/dev/null || return 1
  [ -f "$work/installed/ansible_collections/vaultkube/platform/MANIFEST.json" ] || {
    echo "ansible-galaxy collection install: vaultkube.platform not installed"; return 1; }
  local rc=0 plugin kind
  for plugin in plugins/modules/*.py plugins/filter/*.py plugins/lookup/*.py; do
    kind=$(basename "$(dirname "$plugin")")
    kind=${kind%s}
    plugin=$(basename "$plugin" .py)
    if env -u PYTHONPATH ANSIBLE_COLLECTIONS_PATH="$work/installed" ansible-doc -t "$kind" "vaultkube.platform.$plugin" >/dev/null 2>"$work/doc.err"; then
      echo "ansible-doc -t $kind vaultkube.platform.$plugin: ok"
    else
      echo "ansible-doc -t $kind vaultkube.platform.$plugin: FAILED"; cat "$work/doc.err"; rc=1
    fi
  done
  build_ee "$work" || rc=1
  rm -rf "$work"
  return $rc
}

# build_ee WORK: `ansible-builder create` on tests/ee/execution-environment.yml with the
# tarball built in WORK, then the image build's own introspection (the context's
# introspect.py over the installed collection, as its builder stage runs it) and bindep:
# the image gets the collection's Python requirements and openssh-client, and no [test] or
# [host] package. No container engine; about 2 s of CPU (5-10 s on a loaded machine).
build_ee() {
  local work=$1 ee=$1/ee start=$SECONDS
  command -v ansible-builder >/dev/null || {
    echo "ansible-builder: not installed (requirements-test.txt pins it: bash tests/setup.sh)"; return 1; }
  mkdir -p "$ee"
  cp tests/ee/execution-environment.yml "$ee/"
  cp "$work"/vaultkube-platform-*.tar.gz "$ee/vaultkube-platform.tar.gz"
  ansible-builder create -f "$ee/execution-environment.yml" -c "$ee/context" \
    --output-filename Containerfile >"$ee/create.log" 2>&1 || {
    echo "ansible-builder create: FAILED"; cat "$ee/create.log"; return 1; }
  local context=$ee/context
  if ! { [ -f "$context/_build/collections/vaultkube-platform.tar.gz" ] \
    && grep -q 'vaultkube-platform.tar.gz' "$context/_build/requirements.yml" \
    && grep -q 'introspect.py introspect' "$context/Containerfile"; }; then
    echo "ansible-builder create: the context lacks the collection or its introspection"; return 1
  fi
  python "$context/_build/scripts/introspect.py" introspect "$work/installed" \
    --write-pip "$ee/requirements.txt" --write-bindep "$ee/bindep.txt" >/dev/null || {
    echo "introspect.py over the installed collection: FAILED"; return 1; }
  local missing=() req
  for req in hvac requests urllib3 kubernetes cryptography; do
    grep -q "^$req>=.*# from collection vaultkube.platform" "$ee/requirements.txt" || missing+=("$req")
  done
  # What the image installs: bindep without a profile (the build's assemble step).
  bindep -f "$ee/bindep.txt" -l newline > "$ee/packages.txt" || true
  grep -qx 'openssh-client\|openssh-clients' "$ee/packages.txt" || missing+=(openssh-client)
  if grep -qx 'postgresql\|git\|python3-cryptography' "$ee/packages.txt"; then
    echo "bindep: a [test] or [host] package would go into the image: $(paste -sd' ' "$ee/packages.txt")"; return 1
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "execution environment: missing ${missing[*]}"; cat "$ee/requirements.txt" "$ee/bindep.txt"; return 1
  fi
  echo "ansible-builder create: ok (python: $(grep -c . "$ee/requirements.txt") requirements;" \
    "system: $(paste -sd' ' "$ee/packages.txt"); $((SECONDS - start)) s)"
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
  # The lab's own tests (each brings up a private lab instance and takes it down), Kubernetes
  # auth and kubernetes_objects against it.
  run_pytest lab tests/lab --ignore=tests/lab/test_node.py
}

stage_node() {
  wait_node_build || return 1
  # A worker node in a private lab: pods from local images, DNS, the API server from pods, the
  # Vault chart in HA raft, and a clean teardown (needs root; -s: the test prints its timings).
  run_pytest node -s tests/lab/test_node.py
}

stage_roles() {
  wait_lab_build || return 1
  # Argument specs in step with defaults, ansible-lint (production profile), then every molecule
  # scenario on the shared lab (no containers), each followed by tests/roles/test_<scenario>_*.py
  # (checks that need more than the scenario's converge). The lab's OpenBao and ESO state is reset
  # first, so the first converge starts from nothing. The scenario cluster (Vault and ESO as pods)
  # brings the lab up with its node; the cluster stage covers the same flow in CI.
  local scenarios s start ok extra f failed=()
  read -r -a scenarios <<<"${VAULTKUBE_ROLES_SCENARIOS:-vault_install vault_unseal ca_cert_export vault_kubernetes_auth eso_deploy default}"
  echo "[roles] argument specs match defaults"
  python tests/roles/argspecs.py --check || return 1
  echo "[roles] ansible-lint (profile: production)"
  # ansible-lint installs this collection into ~/.ansible/collections once and keeps that copy
  # while galaxy.yml's version is unchanged, ahead of the tree under test on its collections
  # path: drop it, so that what is linted (and what molecule runs) is this tree.
  rm -rf "$HOME/.ansible/collections/ansible_collections/vaultkube/platform"
  ansible-lint roles/ playbooks/site.yml molecule/ || return 1
  local node=()
  for s in "${scenarios[@]}"; do [ "$s" != cluster ] || node=(--node); done
  bash tests/lab/up.sh ${node[@]+"${node[@]}"} || return 1
  bash tests/roles/reset.sh || return 1
  for s in "${scenarios[@]}"; do
    echo "[roles] molecule test -s $s"
    start=$SECONDS
    ok=1
    molecule test -s "$s" || ok=0
    extra=()
    for f in tests/roles/test_"$s"_*.py; do [ -e "$f" ] && extra+=("$f"); done
    if [ ${#extra[@]} -gt 0 ]; then
      run_pytest "roles-$s" "${extra[@]}" || ok=0
    fi
    if [ "$ok" = 1 ]; then echo "[roles] scenario $s passed in $((SECONDS - start)) s"; else failed+=("$s"); fi
  done
  if [ ${#failed[@]} -gt 0 ]; then
    echo "[roles] FAILED scenarios: ${failed[*]}"
    return 1
  fi
}

stage_e2e() {
  wait_lab_build || return 1
  # site.yml with inventory/lab (Vault outside the cluster) on a private lab.
  run_pytest e2e tests/e2e/test_site_flow.py
}

stage_fleet() {
  wait_lab_build || return 1
  # site.yml with inventory/lab-fleet: one OpenBao, three lab clusters (own CA and issuer each).
  run_pytest e2e-fleet tests/e2e/test_fleet_flow.py
}

stage_bench_eso() {
  wait_lab_build || return 1
  # Smoke run of the eso_deploy benchmark on the shared lab (N=10 and 100; the README's
  # figures include N=500): ratios and write counts printed, not asserted as timings.
  python tests/bench/bench_eso_deploy.py --sizes 10 100
}

stage_fault() {
  wait_lab_build || return 1
  # site.yml SIGKILLed at task boundaries on a private lab, then run again until it converges
  # (tests/fault/test_fault_site.py explains the points; needs root). The CI subset: every
  # kill-point class of vault_unseal plus four sampled boundaries of the other roles (seed
  # printed); VAULTKUBE_FAULT_ALL=1 is the full sweep. -s: the points and figures are printed.
  run_pytest fault -s tests/fault/test_fault_site.py
}

stage_cluster() {
  wait_node_build || return 1
  # site.yml with Vault and ESO as pods (inventory/lab-cluster) on a lab with a node.
  LAB_NODE=1 VAULTKUBE_TEST_SERVER=openbao run_pytest e2e-cluster tests/e2e/test_cluster_flow.py
}

stage_vault_integration() {
  wait_vault_build || return 1
  # The integration suite again, on HashiCorp Vault (tests that hold for one server only say
  # which and why, and are reported skipped on the other).
  integration_suite vault "${1:-2}"
}

stage_e2e_vault() {
  wait_vault_build || return 1
  wait_lab_build || return 1
  # site.yml on Vault (inventory/lab, the external topology).
  run_pytest e2e-vault tests/e2e/test_site_vault.py
}

stage_cluster_vault() {
  wait_vault_build || return 1
  wait_node_build || return 1
  # The cluster flow with HashiCorp Vault's image in the chart's pods (built from the same binary).
  bash tests/lab/build.sh vault-image || return 1
  LAB_NODE=1 VAULTKUBE_TEST_SERVER=vault run_pytest e2e-cluster-vault tests/e2e/test_cluster_flow.py
}

stage_vault() {
  local rc=0
  # The Vault integration suite, unless the background lane has run it already.
  if [ "$vault_suite_in_lane" = 0 ]; then stage_vault_integration 2 || rc=1; fi
  stage_e2e_vault || rc=1
  stage_cluster_vault || rc=1
  return $rc
}

run_stage() {
  local stage=$1 start
  shift
  echo "=== stage: $stage ==="
  start=$(date +%s)
  if "stage_$stage" "$@"; then
    echo "=== stage $stage passed in $(( $(date +%s) - start ))s ==="
  else
    echo "=== stage $stage FAILED after $(( $(date +%s) - start ))s ==="
    echo "$stage" >> "$results/failed"
  fi
}

# Two lanes. The background lane runs the integration suite (its own servers), the fleet flow
# and the fault stage (private labs without a node) and the integration suite on HashiCorp Vault
# (its own servers, two workers); from the start, the foreground runs the quick stages, then the
# stages on the shared lab and the lab with a node, then the Vault flows. The two lanes share no
# lab, no server and no port, so the wall time is close to the longer lane instead of the sum,
# and on an empty cache the integration suite runs while the lab's Go builds do (the lab stages
# wait for them). `bash tests/run.sh STAGE...` runs only the stages given, in one lane when
# nothing but the Vault flows would run beside the background one.
lane=()
foreground=()
for stage in "${stages[@]}"; do
  case "$stage" in integration|fault|fleet) lane+=("$stage") ;; *) foreground+=("$stage") ;; esac
done
beside=0
for stage in "${foreground[@]}"; do
  case "$stage" in vault) ;; *) beside=1 ;; esac
done
vault_suite_in_lane=0
if [ ${#lane[@]} -gt 0 ] && [ "$beside" = 0 ]; then
  lane=()
  foreground=("${stages[@]}")
elif [ ${#lane[@]} -gt 0 ]; then
  case " ${foreground[*]} " in *" vault "*) lane+=(vault_integration); vault_suite_in_lane=1 ;; esac
fi

lane_pid=
lane_start=0
start_lane() {
  [ ${#lane[@]} -gt 0 ] && [ -z "$lane_pid" ] || return 0
  echo "=== background lane: ${lane[*]} (output at the end) ==="
  lane_start=$(date +%s)
  (
    for stage in "${lane[@]}"; do run_stage "$stage"; done
  ) >"$results/lane.log" 2>&1 &
  lane_pid=$!
}

start_lane
for stage in "${foreground[@]}"; do
  run_stage "$stage"
done
if [ -n "$lane_pid" ]; then
  echo "=== waiting for the background lane: ${lane[*]} ==="
  lane_rc=0
  wait "$lane_pid" || lane_rc=$?
  cat "$results/lane.log"
  # A lane that died outside run_stage (a shell error) has not recorded its failure.
  [ "$lane_rc" = 0 ] || echo "background lane (exit $lane_rc)" >> "$results/failed"
  echo "=== background lane ended after $(( $(date +%s) - lane_start ))s ==="
fi
[ -f "$results/failed" ] && mapfile -t failed_stages < "$results/failed"

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
