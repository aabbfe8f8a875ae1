#!/usr/bin/env bash
# Tests of the roles: argument specs in step with defaults, ansible-lint (production
# profile), then every molecule scenario against the local lab (no containers), each
# followed by the pytest files tests/roles/test_<scenario>_*.py (checks that need more than
# the scenario's converge, for example another target of the role).
#
# Usage: tests/roles/run.sh [--fresh] [scenario ...]
#   --fresh   reset the lab's OpenBao/ESO state first (tests/roles/reset.sh), so the
#             first converge starts from nothing
# The scenario `cluster` (Vault and ESO as pods, inventory/lab-cluster) needs the lab
# with its node: it is not in the default list and brings the lab up with --node
# (only one lab with a node can run on a machine; the end-to-end stage `cluster`
# covers the same flow in CI).
# Exits non-zero when any step fails.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

fresh=0
scenarios=()
for a in "$@"; do
  case "$a" in
    --fresh) fresh=1 ;;
    -*) echo "usage: $0 [--fresh] [scenario ...]" >&2; exit 2 ;;
    *) scenarios+=("$a") ;;
  esac
done
[ "${#scenarios[@]}" -gt 0 ] ||
  scenarios=(vault_install vault_unseal ca_cert_export vault_kubernetes_auth eso_deploy default)

cache=${VAULTKUBE_CACHE:-$HOME/.cache/vaultkube}
[ -f "$cache/env.sh" ] || bash tests/setup.sh
# shellcheck source=/dev/null
. "$cache/env.sh"

t0=$(date +%s)
step() { printf '\n[roles] === %s\n' "$*"; }

step "argument specs match defaults"
python tests/roles/argspecs.py --check

step "ansible-lint (profile: production)"
# ansible-lint installs this collection into ~/.ansible/collections once and keeps that copy
# while galaxy.yml's version is unchanged, ahead of the tree under test on its collections
# path: drop it, so that what is linted (and what molecule runs) is this tree.
rm -rf "$HOME/.ansible/collections/ansible_collections/vaultkube/platform"
ansible-lint roles/ playbooks/site.yml molecule/

node=()
for s in "${scenarios[@]}"; do [ "$s" != cluster ] || node=(--node); done
step "lab up ${node[*]}"
bash tests/lab/up.sh "${node[@]}"
if [ "$fresh" = 1 ]; then
  step "reset the lab's Vault and ESO state"
  bash tests/roles/reset.sh
fi

failed=()
for s in "${scenarios[@]}"; do
  step "molecule test -s $s"
  s0=$(date +%s)
  ok=1
  molecule test -s "$s" || ok=0
  extra=()
  for f in tests/roles/test_"$s"_*.py; do [ -e "$f" ] && extra+=("$f"); done
  if [ "${#extra[@]}" -gt 0 ]; then
    step "pytest ${extra[*]}"
    python -m pytest -q -p no:cacheprovider "${extra[@]}" || ok=0
  fi
  if [ "$ok" = 1 ]; then
    echo "[roles] scenario $s passed in $(( $(date +%s) - s0 )) s"
  else
    echo "[roles] scenario $s FAILED"
    failed+=("$s")
  fi
done

echo
if [ "${#failed[@]}" -gt 0 ]; then
  echo "[roles] FAILED scenarios: ${failed[*]} ($(( $(date +%s) - t0 )) s)"
  exit 1
fi
echo "[roles] all ${#scenarios[@]} scenarios passed ($(( $(date +%s) - t0 )) s)"
