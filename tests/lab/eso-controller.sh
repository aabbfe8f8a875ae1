#!/usr/bin/env bash
# Run the External Secrets Operator controller as a local process against the
# lab API server, authenticated as the chart's ServiceAccount.
#
# Usage: tests/lab/eso-controller.sh start|stop|restart|status
#
# There is no kubelet in the lab, so the chart's Deployment never gets a running
# Pod. This script plays the kubelet's part for that one Pod:
#   * it asks the API server for a ServiceAccount token (TokenRequest, i.e.
#     `kubectl create token`) for $LAB_ESO_SERVICE_ACCOUNT in $LAB_ESO_NAMESPACE
#     and writes a kubeconfig that uses only that token (no admin rights);
#   * it takes the controller's arguments from the chart's Deployment (so the
#     values the chart was installed with, e.g. --enable-leader-election and
#     --concurrent, apply), binding metrics and health probes to loopback ports;
#   * it runs the binary in a private mount namespace where, as in a Pod,
#     /var/run/secrets/kubernetes.io/serviceaccount holds token, ca.crt and
#     namespace (controller-runtime reads the namespace there for leader
#     election). Needs root (unshare); without it, leader election is dropped.
# Install the chart first, e.g.
#   helm install external-secrets "$LAB_CHART_DIR" -n external-secrets --create-namespace \
#     --set webhook.create=false --set certController.create=false
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ESO_STATE=$LAB_STATE/eso
ESO_LOG=$LAB_LOGS/eso-controller.log
TOKEN_DURATION=${LAB_ESO_TOKEN_DURATION:-24h}

eso_healthy() {
  curl -fs --max-time 2 "http://127.0.0.1:$LAB_ESO_HEALTH_PORT/healthz" >/dev/null 2>&1
}

start() {
  if lab_pid eso-controller external-secrets >/dev/null; then
    lab_log "ESO controller already running (pid $(lab_pid eso-controller external-secrets))"
    return 0
  fi
  [ -x "$LAB_BIN/external-secrets" ] || lab_die "no ESO binary; run tests/lab/build.sh eso"
  lab_api_ready || lab_die "lab API server is not up; run tests/lab/up.sh"
  lab_kubectl -n "$LAB_ESO_NAMESPACE" get serviceaccount "$LAB_ESO_SERVICE_ACCOUNT" >/dev/null 2>&1 ||
    lab_die "ServiceAccount $LAB_ESO_NAMESPACE/$LAB_ESO_SERVICE_ACCOUNT not found: install the ESO chart first (see the header of $0)"

  mkdir -p "$ESO_STATE/serviceaccount" "$LAB_LOGS"
  chmod 700 "$ESO_STATE"
  local token
  token=$(lab_kubectl -n "$LAB_ESO_NAMESPACE" create token "$LAB_ESO_SERVICE_ACCOUNT" --duration "$TOKEN_DURATION")
  (
    umask 077
    printf '%s' "$token" >"$ESO_STATE/serviceaccount/token"
    cp "$LAB_CA_CERT" "$ESO_STATE/serviceaccount/ca.crt"
    printf '%s' "$LAB_ESO_NAMESPACE" >"$ESO_STATE/serviceaccount/namespace"
    python3 "$LAB_DIR/kubeconfig.py" "$ESO_STATE/kubeconfig" --server "$LAB_API_URL" --ca "$LAB_CA_CERT" \
      --user "system:serviceaccount:$LAB_ESO_NAMESPACE:$LAB_ESO_SERVICE_ACCOUNT" \
      --token-file "$ESO_STATE/serviceaccount/token" --context eso --namespace "$LAB_ESO_NAMESPACE"
  )

  # Arguments from the chart's Deployment, if it is installed.
  local args_json args=()
  args_json=$(lab_kubectl -n "$LAB_ESO_NAMESPACE" get deployment "$LAB_ESO_DEPLOYMENT" \
    -o jsonpath='{.spec.template.spec.containers[0].args}' 2>/dev/null || true)
  if [ -n "$args_json" ]; then
    mapfile -t args < <(python3 -c 'import json,sys; [print(a) for a in json.loads(sys.argv[1])]' "$args_json")
    lab_log "controller arguments from Deployment $LAB_ESO_NAMESPACE/$LAB_ESO_DEPLOYMENT: ${args[*]}"
  else
    args=(--concurrent=1 --loglevel=info)
    lab_log "no Deployment $LAB_ESO_NAMESPACE/$LAB_ESO_DEPLOYMENT; using ${args[*]}"
  fi
  local final=() a
  for a in "${args[@]}"; do
    case "$a" in
      --metrics-addr=*|--live-addr=*) ;;     # replaced by loopback addresses below
      *) final+=("$a") ;;
    esac
  done
  final+=("--metrics-addr=127.0.0.1:$LAB_ESO_METRICS_PORT" "--live-addr=127.0.0.1:$LAB_ESO_HEALTH_PORT")

  local sa_dir=$ESO_STATE/serviceaccount
  if [ "$(id -u)" = 0 ] && unshare --mount --propagation private true 2>/dev/null; then
    # In a private mount namespace: a fresh tmpfs on /run (seen only by this
    # process) holds the Pod-style ServiceAccount folder.
    # shellcheck disable=SC2016  # the inner script expands its own arguments
    lab_start eso-controller "$ESO_LOG" env KUBECONFIG="$ESO_STATE/kubeconfig" \
      unshare --mount --propagation private -- sh -c '
        set -e
        mount -t tmpfs -o size=1m,mode=0755 vaultkube-lab-eso /run
        d=/run/secrets/kubernetes.io/serviceaccount
        mkdir -p "$d" && cp "$1"/token "$1"/ca.crt "$1"/namespace "$d"/
        shift
        exec "$@"' sh "$sa_dir" "$LAB_BIN/external-secrets" "${final[@]}"
  else
    local nole=()
    for a in "${final[@]}"; do
      [ "$a" = "--enable-leader-election" ] || [ "$a" = "--enable-leader-election=true" ] ||
        nole+=("$a")
    done
    [ "${#nole[@]}" = "${#final[@]}" ] ||
      lab_log "WARNING: not root, cannot provide the Pod namespace file: leader election disabled"
    lab_start eso-controller "$ESO_LOG" env KUBECONFIG="$ESO_STATE/kubeconfig" \
      "$LAB_BIN/external-secrets" "${nole[@]}"
  fi
  # The recorded pid is that of env/unshare/sh, which all exec into the binary.
  for _ in $(seq 1 120); do
    if eso_healthy; then break; fi
    if ! [ -d "/proc/$(cat "$LAB_RUN/eso-controller.pid")" ]; then
      tail -20 "$ESO_LOG" >&2
      lab_die "ESO controller exited; see $ESO_LOG"
    fi
    sleep 0.5
  done
  eso_healthy || { tail -20 "$ESO_LOG" >&2; lab_die "ESO controller not healthy; see $ESO_LOG"; }
  lab_log "ESO controller $LAB_ESO_VERSION running (pid $(cat "$LAB_RUN/eso-controller.pid")) as system:serviceaccount:$LAB_ESO_NAMESPACE:$LAB_ESO_SERVICE_ACCOUNT"
  lab_log "metrics: http://127.0.0.1:$LAB_ESO_METRICS_PORT/metrics  log: $ESO_LOG"
}

stop() { lab_stop eso-controller external-secrets; }

status() {
  if pid=$(lab_pid eso-controller external-secrets); then
    lab_log "ESO controller running (pid $pid)"
  else
    lab_log "ESO controller not running"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
