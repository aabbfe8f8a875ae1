# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts that source this
# Shared paths and helpers for the lab scripts (sourced, not executed).

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$LAB_DIR/versions.env"

# Binaries and the chart live in the cache; a lab instance (state, logs,
# kubeconfig) lives in LAB_HOME, by default next to them. VAULTKUBE_LAB_HOME
# selects another instance (with other LAB_*_PORT values), e.g. a private lab
# for one test run.
LAB_CACHE=${VAULTKUBE_CACHE:-$HOME/.cache/vaultkube}
LAB_BIN=$LAB_CACHE/lab/bin
LAB_CHART_DIR=$LAB_CACHE/lab/charts/external-secrets
LAB_HOME=${VAULTKUBE_LAB_HOME:-$LAB_CACHE/lab}
LAB_STATE=$LAB_HOME/state
LAB_PKI=$LAB_STATE/pki
LAB_RUN=$LAB_STATE/run
LAB_LOGS=$LAB_HOME/logs
LAB_KUBECONFIG=$LAB_HOME/kubeconfig
LAB_API_URL=https://127.0.0.1:$LAB_APISERVER_PORT
LAB_CA_CERT=$LAB_PKI/ca.crt
LAB_ESO_NAMESPACE=${LAB_ESO_NAMESPACE:-external-secrets}
LAB_ESO_SERVICE_ACCOUNT=${LAB_ESO_SERVICE_ACCOUNT:-external-secrets}
LAB_ESO_DEPLOYMENT=${LAB_ESO_DEPLOYMENT:-external-secrets}

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
  setsid nohup "$@" >>"$logf" 2>&1 </dev/null &
  echo $! >"$LAB_RUN/$name.pid"
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

lab_kubectl() { "$LAB_BIN/kubectl" --kubeconfig "$LAB_KUBECONFIG" "$@"; }

lab_api_ready() {
  [ -f "$LAB_PKI/admin.crt" ] || return 1
  curl -fsS --max-time 3 --cacert "$LAB_CA_CERT" --cert "$LAB_PKI/admin.crt" \
    --key "$LAB_PKI/admin.key" "$LAB_API_URL/readyz" >/dev/null 2>&1
}
