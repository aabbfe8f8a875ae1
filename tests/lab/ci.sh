#!/usr/bin/env bash
# The lab stage of the test command: build the pinned binaries (cached outside the
# repository; a cold build takes about 17 minutes on 2 cores) and run the lab's own
# tests, which bring up a private lab instance and take it down again.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${VAULTKUBE_CACHE:-$HOME/.cache/vaultkube}
start=$(date +%s)
bash "$here/build.sh"
echo "lab build: $(( $(date +%s) - start )) s"
junit=()
[ -d "$cache/results" ] && junit=(--junitxml="$cache/results/lab.xml")
start=$(date +%s)
python -m pytest -q "$here" "${junit[@]}"
echo "lab tests: $(( $(date +%s) - start )) s"
