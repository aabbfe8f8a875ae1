# shellcheck shell=bash
# Source me: `source tests/lab/env.sh` — points kubectl/helm/tests at the lab.
# Exports KUBECONFIG, puts the lab binaries first on PATH and sets LAB_* vars.
_lab_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$_lab_here/lib.sh"
unset _lab_here
export LAB_CACHE LAB_HOME LAB_BIN LAB_STATE LAB_LOGS LAB_KUBECONFIG LAB_CHART_DIR
export LAB_API_URL LAB_CA_CERT LAB_APISERVER_PORT LAB_ESO_METRICS_PORT LAB_ESO_HEALTH_PORT
export LAB_ESO_NAMESPACE LAB_ESO_SERVICE_ACCOUNT LAB_ESO_DEPLOYMENT LAB_ESO_VERSION
export LAB_KUBERNETES_VERSION LAB_ETCD_VERSION LAB_SERVICE_CIDR LAB_SA_ISSUER
export LAB_NODE LAB_API_HOST LAB_IMAGES
if [ "$LAB_NODE" = 1 ]; then
  export LAB_NODE_IP LAB_NODE_NAME LAB_NODE_POD_CIDR LAB_NODE_SERVICE_CIDR LAB_CONTAINERD_SOCK
  export LAB_IMAGE_PAUSE LAB_IMAGE_OPENBAO LAB_IMAGE_ESO LAB_COREDNS_VERSION LAB_VOLUMES_DIR
fi
export KUBECONFIG=$LAB_KUBECONFIG
case ":$PATH:" in
  *":$LAB_BIN:"*) ;;
  *) export PATH="$LAB_BIN:$PATH" ;;
esac
