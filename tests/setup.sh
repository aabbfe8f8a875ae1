#!/usr/bin/env bash
# Set-up for users and CI: a virtualenv with the pinned requirements, and the
# repository linked into a collections path as vaultkube.platform.
# Usage: bash tests/setup.sh        then: source "$(bash tests/setup.sh --print-env)"
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${VAULTKUBE_CACHE:-$HOME/.cache/vaultkube}
venv=${VAULTKUBE_VENV:-$cache/venv}
envfile=$cache/env.sh

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
collections=$cache/collections
mkdir -p "$collections/ansible_collections/vaultkube"
ln -sfn "$repo" "$collections/ansible_collections/vaultkube/platform"

cat > "$envfile" <<ENV
export VAULTKUBE_REPO="$repo"
export VAULTKUBE_CACHE="$cache"
export PATH="$venv/bin:\$PATH"
export ANSIBLE_COLLECTIONS_PATH="$collections"
export PYTHONPATH="$collections\${PYTHONPATH:+:\$PYTHONPATH}"
export ANSIBLE_PYTHON_INTERPRETER="$venv/bin/python"
ENV
echo "vaultkube.platform ready: source $envfile"
