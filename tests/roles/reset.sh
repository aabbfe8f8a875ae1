#!/usr/bin/env bash
# Undo what `ansible-playbook -i inventory/lab playbooks/site.yml` did in the lab, so
# the next run starts from nothing: stops the OpenBao process and the ESO controller,
# removes the OpenBao files, the controller-side keys/CA files, the ESO release and
# the objects the roles created. The lab control plane itself stays up.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=/dev/null
. "$repo/tests/lab/env.sh"

ctl=/opt/vaultkube-lab/openbao/etc/openbao-ctl.sh
if [ -x "$ctl" ]; then "$ctl" stop; fi
rm -rf /opt/vaultkube-lab "$LAB_HOME/site"

bash "$repo/tests/lab/eso-controller.sh" stop || true
if lab_api_ready; then
  k() { kubectl --kubeconfig "$LAB_KUBECONFIG" "$@"; }
  # ExternalSecrets carry a finalizer only the controller removes: drop it first.
  for es in $(k get externalsecrets -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}' 2>/dev/null); do
    k -n "${es%%/*}" patch externalsecret "${es#*/}" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null || true
  done
  k delete namespace demo vault-auth --ignore-not-found --wait=false
  k delete clustersecretstore vault-backend --ignore-not-found 2>/dev/null || true
  k delete clusterrolebinding -l app.kubernetes.io/managed-by=vaultkube.platform --ignore-not-found
  helm --kubeconfig "$LAB_KUBECONFIG" uninstall external-secrets -n external-secrets 2>/dev/null || true
fi
echo "[roles] lab reset: OpenBao, keys, ESO release and role objects removed"
