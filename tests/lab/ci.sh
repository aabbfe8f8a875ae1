#!/usr/bin/env bash
# The lab stage of the test command: build the pinned binaries (cached outside the
# repository; a cold build takes about 17 minutes on 2 cores) and run the lab's own
# tests, which bring up a private lab instance and take it down again.
# `ci.sh node`: the node stage: build the node's binaries and images too, and run
# the node test (a private node lab, taken down and checked for leftovers).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${VAULTKUBE_CACHE:-$HOME/.cache/vaultkube}
stage=lab
build_args=()
tests=("$here" --ignore="$here/test_node.py")
if [ "${1:-}" = node ]; then
  stage=node
  build_args=(--node)
  tests=(-s "$here/test_node.py")  # -s: the test prints its timings
  bash "$here/node-deps.sh"
fi
start=$(date +%s)
bash "$here/build.sh" "${build_args[@]}"
echo "$stage build: $(( $(date +%s) - start )) s"
junit=()
[ -d "$cache/results" ] && junit=(--junitxml="$cache/results/$stage.xml")
start=$(date +%s)
python -m pytest -q "${tests[@]}" "${junit[@]}"
echo "$stage tests: $(( $(date +%s) - start )) s"
