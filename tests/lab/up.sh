#!/usr/bin/env bash
# Start the lab: etcd + kube-apiserver + kube-controller-manager on 127.0.0.1,
# and with --node (or LAB_NODE=1) a worker node that runs pods: containerd,
# kubelet, kube-scheduler, kube-proxy and CoreDNS, the API server then on the
# node address (see node.sh).
# Idempotent: a healthy running lab is left alone; missing, unhealthy or
# reconfigured parts are (re)started.
# Writes an admin kubeconfig to ${VAULTKUBE_CACHE:-$HOME/.cache/vaultkube}/lab/kubeconfig.
#
# Usage: tests/lab/up.sh [--node]   (runs build.sh first; cached binaries are reused)
set -euo pipefail
for a in "$@"; do
  case "$a" in
    --node) export LAB_NODE=1 ;;
    *) echo "usage: $0 [--node]" >&2; exit 2 ;;
  esac
done
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=node.sh
. "$LAB_DIR/node.sh"

T0=$(date +%s)

kcm_healthy() {
  curl -fsk --max-time 2 "https://127.0.0.1:$LAB_KCM_PORT/healthz" 2>/dev/null | grep -q ok
}
ETCD_URL=http://127.0.0.1:$LAB_ETCD_CLIENT_PORT
etcd_healthy() { curl -fs --max-time 2 "$ETCD_URL/health" 2>/dev/null | grep -q '"health":"true"'; }

# Wanted command lines. A running process with another command line (e.g. after
# this script changed) is restarted; a matching healthy one is left alone.
ETCD_ARGS=(
  --name vaultkube-lab
  --data-dir "$LAB_STATE/etcd"
  --listen-client-urls "$ETCD_URL"
  --advertise-client-urls "$ETCD_URL"
  --listen-peer-urls "http://127.0.0.1:$LAB_ETCD_PEER_PORT"
  --initial-advertise-peer-urls "http://127.0.0.1:$LAB_ETCD_PEER_PORT"
  --initial-cluster "vaultkube-lab=http://127.0.0.1:$LAB_ETCD_PEER_PORT"
  --listen-metrics-urls ""
  --quota-backend-bytes 2147483648
  --log-level warn
)
APISERVER_ARGS=(
  --etcd-servers "$ETCD_URL"
  --bind-address "$LAB_API_HOST"
  --advertise-address "$LAB_API_HOST"
  --secure-port "$LAB_APISERVER_PORT"
  --tls-cert-file "$LAB_PKI/apiserver.crt"
  --tls-private-key-file "$LAB_PKI/apiserver.key"
  --client-ca-file "$LAB_CA_CERT"
  --kubelet-client-certificate "$LAB_PKI/apiserver-kubelet-client.crt"
  --kubelet-client-key "$LAB_PKI/apiserver-kubelet-client.key"
  --requestheader-client-ca-file "$LAB_CA_CERT"
  --requestheader-allowed-names front-proxy-client
  --requestheader-username-headers X-Remote-User
  --requestheader-group-headers X-Remote-Group
  --requestheader-extra-headers-prefix X-Remote-Extra-
  --proxy-client-cert-file "$LAB_PKI/front-proxy-client.crt"
  --proxy-client-key-file "$LAB_PKI/front-proxy-client.key"
  --authorization-mode "Node,RBAC"
  --anonymous-auth=false
  --service-account-issuer "$LAB_SA_ISSUER"
  --service-account-key-file "$LAB_PKI/sa.pub"
  --service-account-signing-key-file "$LAB_PKI/sa.key"
  --service-account-max-token-expiration 48h
  --service-cluster-ip-range "$LAB_SERVICE_CIDR"
  --allow-privileged=true
  --enable-admission-plugins NodeRestriction
  --profiling=false
  --cert-dir "$LAB_STATE/apiserver-certs"
  --audit-policy-file "$LAB_DIR/audit-policy.yaml"
  --audit-log-path "$LAB_LOGS/audit.log"
  --audit-log-maxsize 200
  --audit-log-maxbackup 1
  --v 1
)
if [ "$LAB_NODE" = 1 ]; then
  # Pods reach the API server through the `kubernetes` Service, whose
  # endpoint the default (lease) reconciler keeps on the node address; the
  # API server reaches the kubelet on the node address, whatever the name.
  APISERVER_ARGS+=(--kubelet-preferred-address-types InternalIP)
else
  # Loopback only: no endpoint a pod could use, so none is published.
  APISERVER_ARGS+=(--endpoint-reconciler-type none)
fi
KCM_KC=$LAB_STATE/controller-manager.kubeconfig
KCM_ARGS=(
  --kubeconfig "$KCM_KC"
  --authentication-kubeconfig "$KCM_KC"
  --authorization-kubeconfig "$KCM_KC"
  --authorization-always-allow-paths "/healthz,/readyz,/livez,/metrics"
  --bind-address 127.0.0.1
  --secure-port "$LAB_KCM_PORT"
  --cert-dir "$LAB_STATE/kcm-certs"
  --root-ca-file "$LAB_CA_CERT"
  --service-account-private-key-file "$LAB_PKI/sa.key"
  --use-service-account-credentials=true
  --cluster-signing-cert-file "$LAB_CA_CERT"
  --cluster-signing-key-file "$LAB_PKI/ca.key"
  --service-cluster-ip-range "$LAB_SERVICE_CIDR"
  --controllers '*'
  --leader-elect=false
  --profiling=false
  --v 1
)

# up_to_date NAME ARGS... : NAME runs from the pidfile with exactly this command line
up_to_date() { local name=$1; shift; lab_up_to_date_cmd "$name" "$LAB_BIN/$name" "$@"; }

if up_to_date etcd "${ETCD_ARGS[@]}" && up_to_date kube-apiserver "${APISERVER_ARGS[@]}" &&
   up_to_date kube-controller-manager "${KCM_ARGS[@]}" &&
   etcd_healthy && lab_api_ready && kcm_healthy && [ -s "$LAB_KUBECONFIG" ] &&
   { [ "$LAB_NODE" != 1 ] || node_healthy; }; then
  [ "$LAB_NODE" != 1 ] || node_volumes_recycle
  lab_log "lab already up and healthy: $LAB_API_URL (kubeconfig: $LAB_KUBECONFIG)"
  exit 0
fi

# An instance keeps the mode it was created with (the API server address,
# Service range and certificates differ).
if [ -f "$LAB_STATE/mode" ] && [ "$(cat "$LAB_STATE/mode")" != "node=$LAB_NODE" ]; then
  # shellcheck disable=SC2153  # set in lib.sh
  lab_die "the lab in $LAB_HOME was created with $(cat "$LAB_STATE/mode"), not node=$LAB_NODE: run tests/lab/down.sh --purge first"
fi

mkdir -p "$LAB_HOME"
build_args=()
[ "$LAB_NODE" = 1 ] && build_args=(--node)
"$LAB_DIR/build.sh" "${build_args[@]}" >"$LAB_HOME/build-last.log" 2>&1 || {
  cat "$LAB_HOME/build-last.log" >&2
  lab_die "build.sh failed"
}

mkdir -p "$LAB_PKI" "$LAB_RUN" "$LAB_LOGS" "$LAB_STATE/etcd"
chmod 700 "$LAB_STATE"
printf 'node=%s\n' "$LAB_NODE" >"$LAB_STATE/mode"
# Mode and ports, for `VAULTKUBE_LAB_HOME=... source tests/lab/env.sh`.
{
  echo "LAB_NODE=$LAB_NODE"
  for v in LAB_ETCD_CLIENT_PORT LAB_ETCD_PEER_PORT LAB_APISERVER_PORT LAB_KCM_PORT \
      LAB_ESO_METRICS_PORT LAB_ESO_HEALTH_PORT LAB_SA_ISSUER; do
    echo "$v=${!v}"
  done
  if [ "$LAB_NODE" = 1 ]; then
    for v in LAB_NODE_IP LAB_NODE_NAME LAB_NODE_POD_CIDR LAB_NODE_SERVICE_CIDR LAB_KUBELET_PORT \
        LAB_KUBELET_HEALTHZ_PORT LAB_SCHEDULER_PORT LAB_PROXY_HEALTHZ_PORT LAB_PROXY_METRICS_PORT \
        LAB_COREDNS_READY_PORT; do
      echo "$v=${!v}"
    done
  fi
} >"$LAB_HOME/instance.env"

# --------------------------------------------------------------------- PKI
gen_cert() { # gen_cert NAME SUBJECT [SAN]  -> $LAB_PKI/NAME.{key,crt} signed by the lab CA
  local name=$1 subj=$2 san=${3:-} ext
  [ -s "$LAB_PKI/$name.crt" ] && return 0
  openssl genrsa -out "$LAB_PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$LAB_PKI/$name.key" -subj "$subj" -out "$LAB_PKI/$name.csr" 2>/dev/null
  ext=$LAB_PKI/$name.ext
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [ -n "$san" ]; then
      echo "extendedKeyUsage=serverAuth,clientAuth"
      echo "subjectAltName=$san"
    else
      echo "extendedKeyUsage=clientAuth"
    fi
  } >"$ext"
  openssl x509 -req -in "$LAB_PKI/$name.csr" -CA "$LAB_PKI/ca.crt" -CAkey "$LAB_PKI/ca.key" \
    -CAcreateserial -days 3650 -sha256 -extfile "$ext" -out "$LAB_PKI/$name.crt" 2>/dev/null
  rm -f "$LAB_PKI/$name.csr" "$ext"
}

if [ ! -s "$LAB_PKI/ca.crt" ]; then
  lab_log "generating lab CA and certificates in $LAB_PKI"
  rm -f "$LAB_PKI"/*.crt "$LAB_PKI"/*.key
  openssl genrsa -out "$LAB_PKI/ca.key" 2048 2>/dev/null
  openssl req -x509 -new -key "$LAB_PKI/ca.key" -days 3650 -sha256 \
    -subj "/CN=vaultkube-lab-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$LAB_PKI/ca.crt" 2>/dev/null
fi
SVC_IP=$(python3 -c "import ipaddress,sys;print(next(ipaddress.ip_network(sys.argv[1]).hosts()))" "$LAB_SERVICE_CIDR")
API_SANS="IP:127.0.0.1,IP:$SVC_IP"
[ "$LAB_NODE" = 1 ] && API_SANS+=",IP:$LAB_NODE_IP"
gen_cert apiserver "/CN=kube-apiserver" \
  "$API_SANS,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
gen_cert admin "/O=system:masters/CN=vaultkube-lab-admin"
gen_cert controller-manager "/CN=system:kube-controller-manager"
gen_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
gen_cert front-proxy-client "/CN=front-proxy-client"
if [ ! -s "$LAB_PKI/sa.key" ]; then
  openssl genrsa -out "$LAB_PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$LAB_PKI/sa.key" -pubout -out "$LAB_PKI/sa.pub" 2>/dev/null
fi
chmod 600 "$LAB_PKI"/*.key

# write_kubeconfig FILE USER CERTNAME: a kubeconfig for USER with the client certificate CERTNAME.
write_kubeconfig() {
  python3 "$LAB_DIR/kubeconfig.py" "$1" --server "$LAB_API_URL" --ca "$LAB_CA_CERT" --user "$2" \
    --cert "$LAB_PKI/$3.crt" --key "$LAB_PKI/$3.key"
}
write_kubeconfig "$LAB_KUBECONFIG" vaultkube-lab-admin admin
write_kubeconfig "$LAB_STATE/controller-manager.kubeconfig" system:kube-controller-manager controller-manager

if [ "$LAB_NODE" = 1 ]; then
  node_lock
  node_address_up
fi

# -------------------------------------------------------------------- etcd
lab_ensure etcd 0 etcd_healthy 30 "etcd $LAB_ETCD_VERSION on 127.0.0.1:$LAB_ETCD_CLIENT_PORT" "etcd health" "$LAB_BIN/etcd" "${ETCD_ARGS[@]}"

# ---------------------------------------------------------- kube-apiserver
lab_ensure kube-apiserver 0 lab_api_ready 120 "kube-apiserver $LAB_KUBERNETES_VERSION on $LAB_API_URL" "kube-apiserver /readyz" "$LAB_BIN/kube-apiserver" "${APISERVER_ARGS[@]}"

# ---------------------------------------------------- kube-controller-manager
lab_ensure kube-controller-manager 0 kcm_healthy 60 "kube-controller-manager $LAB_KUBERNETES_VERSION" "kube-controller-manager /healthz" "$LAB_BIN/kube-controller-manager" "${KCM_ARGS[@]}"

# The control plane is usable once the controllers created the default
# ServiceAccount and published kube-root-ca.crt in the default namespace.
lab_wait "default ServiceAccount and kube-root-ca.crt" 60 \
  sh -c "'$LAB_BIN/kubectl' --kubeconfig '$LAB_KUBECONFIG' -n default get serviceaccount default &&
         '$LAB_BIN/kubectl' --kubeconfig '$LAB_KUBECONFIG' -n default get configmap kube-root-ca.crt"

if [ "$LAB_NODE" = 1 ]; then
  node_up
fi

T1=$(date +%s)
lab_log "lab is up in $((T1 - T0)) s (Kubernetes $LAB_KUBERNETES_VERSION, etcd $LAB_ETCD_VERSION)"
lab_log "API server:  $LAB_API_URL"
lab_log "CA cert:     $LAB_CA_CERT"
lab_log "kubeconfig:  $LAB_KUBECONFIG"
lab_log "binaries:    $LAB_BIN"
lab_log "ESO chart:   $LAB_CHART_DIR"
lab_log "logs:        $LAB_LOGS"
if [ "$LAB_NODE" = 1 ]; then
  lab_log "node:        $LAB_NODE_NAME ($LAB_NODE_IP), pods $LAB_NODE_POD_CIDR, services $LAB_SERVICE_CIDR, DNS $LAB_NODE_IP"
  lab_log "images:      $LAB_IMAGE_PAUSE $LAB_IMAGE_OPENBAO $LAB_IMAGE_ESO $LAB_IMAGE_RELOADER$([ -s "$LAB_IMAGES/vault.tar" ] && printf " %s" "$LAB_IMAGE_VAULT") (imagePullPolicy: Never)"
fi
lab_log "use it:      source tests/lab/env.sh"
