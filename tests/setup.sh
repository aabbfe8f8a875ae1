#!/usr/bin/env bash
# Set-up for users and CI: a virtualenv with the pinned requirements, and the
# repository linked into a collections path as vaultkube.platform.
# Usage: bash tests/setup.sh        then: source "$(bash tests/setup.sh --print-env)"
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${VAULTKUBE_CACHE:-$HOME/.cache/vaultkube}
venv=${VAULTKUBE_VENV:-$cache/venv}
# VAULTKUBE_COLLECTIONS: a collections path of its own (and its own env file), for a second
# checkout (a git worktree) tested on the same machine beside the first.
collections=${VAULTKUBE_COLLECTIONS:-$cache/collections}
envfile=$cache/env.sh
[ -z "${VAULTKUBE_COLLECTIONS:-}" ] || envfile=$collections/env.sh

if [ "${1:-}" = "--print-env" ]; then
  echo "$envfile"
  exit 0
fi

mkdir -p "$cache"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
stamp=$venv/.requirements.sha256
want=$(cat "$repo/requirements.txt" "$repo/requirements-test.txt" | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$repo/requirements-test.txt"
  echo "$want" > "$stamp"
fi

# The collection is this repository: expose it under ansible_collections/vaultkube/platform.
mkdir -p "$collections/ansible_collections/vaultkube"
ln -sfn "$repo" "$collections/ansible_collections/vaultkube/platform"

# The official Vault chart for the in-cluster tests: used in place from the folder of test
# material beside the project (../shared/charts, also beside the main checkout of a git
# worktree); a copy is cached so that a clone elsewhere on the same machine finds it too.
vault_chart=${VAULTKUBE_VAULT_CHART:-}
if [ -z "$vault_chart" ]; then
  common=$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
  for dir in "$repo/../shared/charts/vault-0.34.1" ${common:+"$(dirname "$common")/../shared/charts/vault-0.34.1"}; do
    if [ -f "$dir/Chart.yaml" ]; then
      if [ ! -f "$cache/charts/vault-0.34.1/Chart.yaml" ]; then
        mkdir -p "$cache/charts"
        copy=$(mktemp -d "$cache/charts/.vault-0.34.1.XXXXXX")
        chmod 755 "$copy"
        cp -R "$dir/." "$copy"
        mv -T "$copy" "$cache/charts/vault-0.34.1" 2>/dev/null || rm -rf "$copy"
      fi
      break
    fi
  done
  [ -f "$cache/charts/vault-0.34.1/Chart.yaml" ] && vault_chart=$cache/charts/vault-0.34.1
fi

cat > "$envfile" <<ENV
export VAULTKUBE_REPO="$repo"
export VAULTKUBE_CACHE="$cache"
export PATH="$venv/bin:\$PATH"
export ANSIBLE_COLLECTIONS_PATH="$collections"
export PYTHONPATH="$collections:$repo/tests/support\${PYTHONPATH:+:\$PYTHONPATH}"
export ANSIBLE_PYTHON_INTERPRETER="$venv/bin/python"
${vault_chart:+export VAULTKUBE_VAULT_CHART="$vault_chart"}
ENV
echo "vaultkube.platform ready: source $envfile"
