#!/usr/bin/env bash
# ansible-test sanity on a clean copy of the collection (ansible-test wants the
# collection under ansible_collections/<namespace>/<name>/ and no leftovers).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/vaultkube/platform
mkdir -p "$dest"
(cd "$repo" && git ls-files -co --exclude-standard | while read -r f; do [ -e "$f" ] && echo "$f"; done \
  | tar -cf - -T -) | tar -xf - -C "$dest"

# ansible-test first downloads a pip bootstrap script from a host that cannot be
# reached here; it uses a cached copy when one exists. Ours bootstraps pip from
# the standard library and the package index instead.
cache=$HOME/.ansible/test/cache
mkdir -p "$cache"
cat > "$cache/get_pip_24_2.py" <<'PY'
import subprocess
import sys
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'])
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--quiet', 'pip==24.2'])
PY

cd "$dest"
git init -q && git add -A && git -c user.email=ci@localhost -c user.name=ci commit -qm sanity
ansible-test sanity --local --python 3.11 --requirements --color no "$@"
