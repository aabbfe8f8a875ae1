# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts that source this
# Shared paths and helpers for the lab scripts (sourced, not executed).

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Binaries and the chart live in the cache; a lab instance (state, logs,
# kubeconfig) lives in LAB_HOME, by default next to them. VAULTKUBE_LAB_HOME
# selects another instance (with other LAB_*_PORT values), e.g. a private lab
# for one test run.
LAB_CACHE=${VAULTKUBE_CACHE:-$HOME/.cache/vaultkube}
LAB_HOME=${VAULTKUBE_LAB_HOME:-$LAB_CACHE/lab}

# up.sh records an instance's mode (LAB_NODE), node address and ports in
# instance.env, so that `VAULTKUBE_LAB_HOME=... source env.sh` finds them; a
# variable set in the environment wins.
if [ -f "$LAB_HOME/instance.env" ]; then
  while IFS='=' read -r _lab_k _lab_v; do
    case "$_lab_k" in
      LAB_*) [ -n "${!_lab_k+x}" ] || export "$_lab_k=$_lab_v" ;;
    esac
  done <"$LAB_HOME/instance.env"
  unset _lab_k _lab_v
fi

# shellcheck source=versions.env
. "$LAB_DIR/versions.env"

LAB_BIN=$LAB_CACHE/lab/bin
LAB_IMAGES=$LAB_CACHE/lab/images
LAB_CHART_DIR=$LAB_CACHE/lab/charts/external-secrets
LAB_STATE=$LAB_HOME/state
LAB_PKI=$LAB_STATE/pki
LAB_RUN=$LAB_STATE/run
LAB_LOGS=$LAB_HOME/logs
LAB_KUBECONFIG=$LAB_HOME/kubeconfig
LAB_CA_CERT=$LAB_PKI/ca.crt
LAB_ESO_NAMESPACE=${LAB_ESO_NAMESPACE:-external-secrets}
LAB_ESO_SERVICE_ACCOUNT=${LAB_ESO_SERVICE_ACCOUNT:-external-secrets}
LAB_ESO_DEPLOYMENT=${LAB_ESO_DEPLOYMENT:-external-secrets}

# Without a node (the default) the API server listens on loopback only and
# the `kubernetes` Service has no endpoints. With a node (LAB_NODE=1) it
# listens on the node address, which pods reach.
LAB_NODE=${LAB_NODE:-0}
if [ "$LAB_NODE" = 1 ]; then
  # shellcheck disable=SC2153  # set in versions.env
  LAB_API_HOST=$LAB_NODE_IP
  LAB_SERVICE_CIDR=$LAB_NODE_SERVICE_CIDR
else
  LAB_API_HOST=127.0.0.1
fi
LAB_API_URL=https://$LAB_API_HOST:$LAB_APISERVER_PORT

# The node's state (containerd, kubelet, CNI, volumes), all under LAB_STATE.
LAB_NODE_DIR=$LAB_STATE/node
LAB_CONTAINERD_DIR=$LAB_NODE_DIR/containerd
LAB_CONTAINERD_SOCK=$LAB_CONTAINERD_DIR/containerd.sock
LAB_KUBELET_DIR=$LAB_NODE_DIR/kubelet
LAB_CNI_DIR=$LAB_NODE_DIR/cni
LAB_VOLUMES_DIR=$LAB_NODE_DIR/volumes
# The bridge the node's pods are attached to.
LAB_NODE_BRIDGE=vklab0
# Machine-wide: one node lab per machine (it owns iptables rules, the bridge
# and sysctls). Holds the owning LAB_HOME and the sysctl values to restore.
LAB_NODE_LOCK_DIR=/run/vaultkube-lab-node

lab_log() { printf '[lab] %s\n' "$*"; }
lab_die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

# lab_pid NAME -> prints the pid of a running lab process NAME, or fails.
# The pidfile is trusted only if the process still runs the expected binary.
lab_pid() {
  local name=$1 bin=${2:-$1} pidf=$LAB_RUN/$1.pid pid exe
  [ -f "$pidf" ] || return 1
  pid=$(cat "$pidf")
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
  case "$exe" in
    */"$bin"|*/"$bin"" (deleted)") printf '%s\n' "$pid" ;;
    *) return 1 ;;
  esac
}

# lab_up_to_date_cmd NAME CMD... : NAME runs (from its pidfile) with exactly this command line
lab_up_to_date_cmd() {
  local name=$1 pid want have
  shift
  pid=$(lab_pid "$name" "$(basename "$1")") || return 1
  want=$(printf '%s\n' "$@")
  have=$(tr '\0' '\n' <"/proc/$pid/cmdline")
  [ "$want" = "$have" ]
}

# lab_stop NAME [BIN]: TERM the process from its pidfile, wait, then KILL.
lab_stop() {
  local name=$1 bin=${2:-$1} pid
  if pid=$(lab_pid "$name" "$bin"); then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      [ -d "/proc/$pid" ] || break
      sleep 0.2
    done
    if [ -d "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    lab_log "stopped $name (pid $pid)"
  else
    lab_log "$name not running"
  fi
  rm -f "$LAB_RUN/$name.pid"
}

# lab_start NAME LOGFILE CMD... : start CMD detached (own session), record pid.
lab_start() {
  local name=$1 logf=$2; shift 2
  mkdir -p "$LAB_RUN" "$LAB_LOGS"
  # The usual umask, whatever the caller's: containerd and the kubelet create
  # the directories containers and pods see.
  local mask
  mask=$(umask)
  umask 022
  setsid nohup "$@" >>"$logf" 2>&1 </dev/null &
  echo $! >"$LAB_RUN/$name.pid"
  umask "$mask"
}

# lab_wait DESCRIPTION SECONDS CMD... : retry CMD until it succeeds.
lab_wait() {
  local what=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 4))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  lab_die "timed out after ${secs}s waiting for $what"
}

# lab_ensure NAME CHANGED HEALTHY WAIT_S START_LABEL WAIT_LABEL CMD...: keep process NAME running
# as CMD. Left alone when CHANGED is 0 (its configuration file did not change), its process runs
# exactly CMD and HEALTHY succeeds; otherwise stopped, started as CMD (log in LAB_LOGS/NAME.log)
# and waited for until HEALTHY succeeds (WAIT_S seconds at most).
lab_ensure() {
  local name=$1 changed=$2 healthy=$3 secs=$4 start_label=$5 wait_label=$6
  shift 6
  if [ "$changed" = 0 ] && lab_up_to_date_cmd "$name" "$@" && "$healthy"; then
    lab_log "$name already running"
    return 0
  fi
  lab_stop "$name"
  lab_log "starting $start_label"
  lab_start "$name" "$LAB_LOGS/$name.log" "$@"
  lab_wait "$wait_label" "$secs" "$healthy"
}

lab_kubectl() { "$LAB_BIN/kubectl" --kubeconfig "$LAB_KUBECONFIG" "$@"; }

# lab_ctr ARGS... : containerd's client against the node's containerd, in the
# namespace the CRI plugin (and so the kubelet) uses.
lab_ctr() { ctr --address "$LAB_CONTAINERD_SOCK" --namespace k8s.io "$@"; }

lab_api_ready() {
  [ -f "$LAB_PKI/admin.crt" ] || return 1
  curl -fsS --max-time 3 --cacert "$LAB_CA_CERT" --cert "$LAB_PKI/admin.crt" \
    --key "$LAB_PKI/admin.key" "$LAB_API_URL/readyz" >/dev/null 2>&1
}
