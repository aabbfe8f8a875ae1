# shellcheck shell=bash
# The lab's worker node (sourced by up.sh and down.sh after lib.sh):
# containerd (Debian's, with its own configuration, socket and state under
# LAB_STATE/node), the CNI bridge plugin, kubelet, kube-proxy (iptables
# mode), kube-scheduler and CoreDNS as host processes. Only one node lab can
# run on a machine: it owns iptables rules, a bridge, the node address and
# sysctls (recorded in LAB_NODE_LOCK_DIR).

# Kernel settings the node may change: ip_forward (set by the lab), the ones
# the kubelet sets when protectKernelDefaults is off, and kube-proxy's
# conntrack settings (left alone by its configuration, but saved anyway).
# Saved before the node starts, restored by down.sh.
LAB_NODE_SYSCTLS=(
  net.ipv4.ip_forward
  net.ipv6.conf.all.forwarding
  vm.overcommit_memory
  vm.panic_on_oom
  kernel.panic
  kernel.panic_on_oops
  kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes
  net.netfilter.nf_conntrack_max
  net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait
)
LAB_NODE_PV_COUNT=${LAB_NODE_PV_COUNT:-8}
LAB_NODE_STORAGE_CLASS=${LAB_NODE_STORAGE_CLASS:-lab-local}

NODE_KC_DIR=$LAB_NODE_DIR/kubeconfigs
CONTAINERD_CONFIG=$LAB_CONTAINERD_DIR/config.toml
KUBELET_CONFIG=$LAB_NODE_DIR/kubelet-config.yaml
PROXY_CONFIG=$LAB_NODE_DIR/kube-proxy-config.yaml
COREFILE=$LAB_NODE_DIR/Corefile
CNI_CONF_DIR=$LAB_CNI_DIR/net.d

# write_if_changed FILE: write stdin to FILE only if that changes it (a
# component that watches its file, like kube-proxy, exits when it is
# rewritten). Returns 0 if FILE changed, 1 if it was already so.
write_if_changed() {
  local f=$1
  cat >"$f.new"
  if [ -f "$f" ] && cmp -s "$f" "$f.new"; then
    rm -f "$f.new"
    return 1
  fi
  mv -f "$f.new" "$f"
  return 0
}

# ----------------------------------------------------------- one per machine
node_lock() {
  if [ -f "$LAB_NODE_LOCK_DIR/home" ]; then
    local other
    other=$(cat "$LAB_NODE_LOCK_DIR/home")
    if [ "$other" != "$LAB_HOME" ]; then
      if [ -d "$other/state" ]; then
        lab_die "a node lab is already up on this machine ($other); only one can run: take it down first with VAULTKUBE_LAB_HOME=$other tests/lab/down.sh"
      fi
      lab_log "cleaning up after a vanished node lab ($other)"
      node_machine_cleanup
    fi
  fi
  mkdir -p "$LAB_NODE_LOCK_DIR"
  printf '%s\n' "$LAB_HOME" >"$LAB_NODE_LOCK_DIR/home"
  # The netfilter tables that exist before the node (iptables-nft creates a
  # table on first use; those the node caused are removed when left empty).
  if [ ! -f "$LAB_NODE_LOCK_DIR/nft-tables" ] && command -v nft >/dev/null; then
    nft list tables >"$LAB_NODE_LOCK_DIR/nft-tables" 2>/dev/null || true
  fi
  if [ ! -f "$LAB_NODE_LOCK_DIR/sysctl.saved" ]; then
    local k v
    for k in "${LAB_NODE_SYSCTLS[@]}"; do
      v=$(sysctl -n "$k" 2>/dev/null) || continue
      printf '%s=%s\n' "$k" "$v"
    done >"$LAB_NODE_LOCK_DIR/sysctl.saved.tmp"
    mv -f "$LAB_NODE_LOCK_DIR/sysctl.saved.tmp" "$LAB_NODE_LOCK_DIR/sysctl.saved"
  fi
}

# ------------------------------------------------------------------ network
# The node address: used as it is when it is already one of this machine's
# addresses, otherwise added to the loopback interface (a local address on
# an interface that is always up; pods reach it through their gateway).
node_address_up() {
  # The whole listing is read before grep answers: with `grep -q` under pipefail, ip's SIGPIPE
  # on a long listing (many pod interfaces) made a present address look absent.
  local addresses
  addresses=$(ip -o addr show)
  if grep -q " inet $LAB_NODE_IP/" <<<"$addresses"; then
    return 0
  fi
  ip addr add "$LAB_NODE_IP/32" dev lo
  printf '%s\n' "$LAB_NODE_IP" >"$LAB_NODE_LOCK_DIR/address"
}

node_cni_conf() {
  mkdir -p "$CNI_CONF_DIR" "$LAB_CNI_DIR/ipam"
  local gw
  gw=$(python3 -c "import ipaddress,sys;print(next(ipaddress.ip_network(sys.argv[1]).hosts()))" "$LAB_NODE_POD_CIDR")
  # No masquerading from pods (they need nothing outside the machine); the
  # bridge is the pods' gateway to the node address and to Services.
  write_if_changed "$CNI_CONF_DIR/10-vaultkube-lab.conflist" <<EOF || true
{
  "cniVersion": "0.4.0",
  "name": "vaultkube-lab",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$LAB_NODE_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$LAB_CNI_DIR/ipam",
        "ranges": [[{"subnet": "$LAB_NODE_POD_CIDR", "gateway": "$gw"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
EOF
}

# --------------------------------------------------------------------- PKI
node_certs() {
  gen_cert kubelet "/O=system:nodes/CN=system:node:$LAB_NODE_NAME"
  gen_cert kube-scheduler "/CN=system:kube-scheduler"
  gen_cert kube-proxy "/CN=system:kube-proxy"
  gen_cert coredns "/CN=vaultkube-lab-coredns"
  chmod 600 "$LAB_PKI"/*.key
  mkdir -p "$NODE_KC_DIR"
  write_kubeconfig "$NODE_KC_DIR/kubelet" "system:node:$LAB_NODE_NAME" kubelet
  write_kubeconfig "$NODE_KC_DIR/kube-scheduler" system:kube-scheduler kube-scheduler
  write_kubeconfig "$NODE_KC_DIR/kube-proxy" system:kube-proxy kube-proxy
  write_kubeconfig "$NODE_KC_DIR/coredns" vaultkube-lab-coredns coredns
}

# --------------------------------------------------------------- containerd
containerd_healthy() { lab_ctr version >/dev/null 2>&1; }

node_containerd_up() {
  mkdir -p "$LAB_CONTAINERD_DIR"
  local changed=0
  # restrict_oom_score_adj: the CRI asks for oom_score_adj -998 for sandboxes,
  # which root without CAP_SYS_RESOURCE cannot set (runc then fails every
  # sandbox). netns_mounts_under_state_dir keeps pod network namespaces under
  # our state directory rather than /var/run/netns.
  write_if_changed "$CONTAINERD_CONFIG" <<EOF && changed=1
version = 2
root = "$LAB_CONTAINERD_DIR/root"
state = "$LAB_CONTAINERD_DIR/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$LAB_CONTAINERD_SOCK"

[plugins."io.containerd.internal.v1.opt"]
  path = "$LAB_CONTAINERD_DIR/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$LAB_IMAGE_PAUSE"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CNI_CONF_DIR"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
EOF
  local want=(/usr/bin/containerd --config "$CONTAINERD_CONFIG")
  lab_ensure containerd "$changed" containerd_healthy 30 "containerd $(dpkg-query -W -f '${Version}' containerd)" "containerd" "${want[@]}"
}

# The node's images (docker-archive tars written by build.sh); each is
# imported again when its tar changed since the last import. The optional ones
# are imported when build.sh wrote them (HashiCorp Vault: build.sh vault-image).
LAB_NODE_IMAGE_TARS=(pause openbao external-secrets reloader)
LAB_NODE_OPTIONAL_IMAGE_TARS=(vault)
image_imported() { # image_imported NAME
  local tar=$LAB_IMAGES/$1.tar mark=$LAB_CONTAINERD_DIR/.imported-$1
  [ -f "$mark" ] && [ -f "$tar" ] && [ "$(cat "$mark")" = "$(stat -c %Y-%s "$tar")" ]
}
node_image_names() {
  local name
  printf '%s\n' "${LAB_NODE_IMAGE_TARS[@]}"
  for name in "${LAB_NODE_OPTIONAL_IMAGE_TARS[@]}"; do
    [ -s "$LAB_IMAGES/$name.tar" ] && printf '%s\n' "$name"
  done
  return 0
}
node_images_current() {
  local name
  for name in $(node_image_names); do image_imported "$name" || return 1; done
}
node_images() {
  local name tar
  for name in $(node_image_names); do
    image_imported "$name" && continue
    tar=$LAB_IMAGES/$name.tar
    [ -s "$tar" ] || lab_die "missing image $tar: run tests/lab/build.sh images"
    lab_log "importing image $name"
    lab_ctr images import "$tar" >/dev/null
    stat -c %Y-%s "$tar" >"$LAB_CONTAINERD_DIR/.imported-$name"
  done
}

# ------------------------------------------------------------------- kubelet
kubelet_healthy() { curl -fs --max-time 2 "http://127.0.0.1:$LAB_KUBELET_HEALTHZ_PORT/healthz" 2>/dev/null | grep -q ok; }

node_kubelet_up() {
  mkdir -p "$LAB_KUBELET_DIR" "$LAB_NODE_DIR/pod-logs"
  local changed=0
  # cgroupfs + failCgroupV1=false: cgroup v1 hosts; failSwapOn=false: hosts
  # with swap; image GC off (our images cannot be pulled again); eviction only
  # when nearly out of space (small CI disks).
  write_if_changed "$KUBELET_CONFIG" <<EOF && changed=1
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $LAB_NODE_IP
port: $LAB_KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $LAB_KUBELET_HEALTHZ_PORT
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $LAB_CA_CERT
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$LAB_CONTAINERD_SOCK
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDomain: cluster.local
clusterDNS:
- $LAB_NODE_IP
resolvConf: /etc/resolv.conf
podLogsDir: $LAB_NODE_DIR/pod-logs
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
serializeImagePulls: false
maxPods: 110
EOF
  local want=("$LAB_BIN/kubelet" --config "$KUBELET_CONFIG" --kubeconfig "$NODE_KC_DIR/kubelet"
    --root-dir "$LAB_KUBELET_DIR" --cert-dir "$LAB_KUBELET_DIR/pki"
    --hostname-override "$LAB_NODE_NAME" --node-ip "$LAB_NODE_IP" --v 1)
  lab_ensure kubelet "$changed" kubelet_healthy 60 "kubelet $LAB_KUBERNETES_VERSION (node $LAB_NODE_NAME, $LAB_NODE_IP)" "kubelet /healthz" "${want[@]}"
}

# ---------------------------------------------------------------- scheduler
scheduler_healthy() { curl -fsk --max-time 2 "https://127.0.0.1:$LAB_SCHEDULER_PORT/healthz" 2>/dev/null | grep -q ok; }

node_scheduler_up() {
  local kc=$NODE_KC_DIR/kube-scheduler
  local want=("$LAB_BIN/kube-scheduler" --kubeconfig "$kc" --authentication-kubeconfig "$kc"
    --authorization-kubeconfig "$kc" --authorization-always-allow-paths "/healthz,/readyz,/livez,/metrics"
    --bind-address 127.0.0.1 --secure-port "$LAB_SCHEDULER_PORT" --cert-dir "$LAB_NODE_DIR/scheduler-certs"
    --leader-elect=false --profiling=false --v 1)
  lab_ensure kube-scheduler 0 scheduler_healthy 60 "kube-scheduler $LAB_KUBERNETES_VERSION" "kube-scheduler /healthz" "${want[@]}"
}

# --------------------------------------------------------------- kube-proxy
proxy_healthy() { curl -fs --max-time 2 "http://127.0.0.1:$LAB_PROXY_HEALTHZ_PORT/livez" >/dev/null 2>&1; }

node_proxy_up() {
  local changed=0
  # masqueradeAll: a pod reaching a Service whose endpoint is a pod on the
  # same bridge gets the reply through the node whether or not bridged
  # traffic passes iptables (br_netfilter). localhostNodePorts=false and the
  # conntrack zeros leave the machine's sysctls alone.
  write_if_changed "$PROXY_CONFIG" <<EOF && changed=1
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: $LAB_NODE_NAME
bindAddress: $LAB_NODE_IP
clusterCIDR: $LAB_NODE_POD_CIDR
clientConnection:
  kubeconfig: $NODE_KC_DIR/kube-proxy
healthzBindAddress: 127.0.0.1:$LAB_PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$LAB_PROXY_METRICS_PORT
nodePortAddresses:
- $LAB_NODE_IP/32
iptables:
  localhostNodePorts: false
  masqueradeAll: true
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
  local want=("$LAB_BIN/kube-proxy" --config "$PROXY_CONFIG" --v 1)
  lab_ensure kube-proxy "$changed" proxy_healthy 60 "kube-proxy $LAB_KUBERNETES_VERSION (iptables)" "kube-proxy /livez" "${want[@]}"
}

# ------------------------------------------------------------------ CoreDNS
coredns_healthy() { curl -fs --max-time 2 "http://127.0.0.1:$LAB_COREDNS_READY_PORT/ready" >/dev/null 2>&1; }

node_coredns_up() {
  # Read-only access to what the kubernetes plugin watches.
  lab_kubectl apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: vaultkube-lab:coredns
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: vaultkube-lab:coredns
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: vaultkube-lab:coredns
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: vaultkube-lab-coredns
EOF
  local changed=0
  # Cluster names only: the lab's pods need nothing outside the cluster.
  write_if_changed "$COREFILE" <<EOF && changed=1
.:53 {
    bind $LAB_NODE_IP
    errors
    ready 127.0.0.1:$LAB_COREDNS_READY_PORT
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $NODE_KC_DIR/coredns vaultkube-lab
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    cache 30
    loadbalance
}
EOF
  local want=("$LAB_BIN/coredns" -conf "$COREFILE")
  lab_ensure coredns "$changed" coredns_healthy 60 "coredns $LAB_COREDNS_VERSION on $LAB_NODE_IP:53" "coredns /ready" "${want[@]}"
}

# ---------------------------------------------------------------- volumes
# A default StorageClass without a provisioner and a pool of hostPath
# PersistentVolumes (directories under LAB_VOLUMES_DIR, writable by any pod
# user), so charts' PersistentVolumeClaims bind as on a cluster. A Released
# volume (its claim was deleted) is wiped and made Available again.
node_volumes() {
  mkdir -p "$LAB_VOLUMES_DIR"
  local i docs=""
  for i in $(seq 1 "$LAB_NODE_PV_COUNT"); do
    mkdir -p "$LAB_VOLUMES_DIR/pv-$i"
    chmod 0777 "$LAB_VOLUMES_DIR/pv-$i"
    docs+="---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: lab-pv-$i
  labels:
    vaultkube.lab/volume: \"true\"
spec:
  capacity:
    storage: 10Gi
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: $LAB_NODE_STORAGE_CLASS
  hostPath:
    path: $LAB_VOLUMES_DIR/pv-$i
    type: Directory
"
  done
  lab_kubectl apply -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $LAB_NODE_STORAGE_CLASS
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
$docs
EOF
  node_volumes_recycle
}

node_volumes_recycle() {
  local pv i
  for pv in $(lab_kubectl get pv -l vaultkube.lab/volume=true \
      -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{"\n"}{end}'); do
    i=${pv#lab-pv-}
    find "$LAB_VOLUMES_DIR/pv-$i" -mindepth 1 -delete
    lab_kubectl patch pv "$pv" --type json -p '[{"op":"remove","path":"/spec/claimRef"}]' >/dev/null
    lab_log "recycled released volume $pv"
  done
}

node_ready() {
  [ "$(lab_kubectl get node "$LAB_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# node_healthy: every node process runs as configured and answers.
node_healthy() {
  lab_pid containerd >/dev/null && containerd_healthy && kubelet_healthy && scheduler_healthy &&
    proxy_healthy && coredns_healthy && lab_pid kubelet >/dev/null && lab_pid kube-scheduler >/dev/null &&
    lab_pid kube-proxy >/dev/null && lab_pid coredns >/dev/null && node_images_current && node_ready
}

node_up() {
  "$LAB_DIR/node-deps.sh"
  node_lock
  sysctl -qw net.ipv4.ip_forward=1
  node_certs
  node_cni_conf
  local t0
  t0=$(date +%s%N)
  node_containerd_up
  node_images
  node_kubelet_up
  node_scheduler_up
  node_proxy_up
  node_coredns_up
  lab_wait "node $LAB_NODE_NAME Ready" 120 node_ready
  lab_log "node $LAB_NODE_NAME Ready: its start took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  node_volumes
}

# ------------------------------------------------------------------ teardown
# Remove what the node left in the machine: iptables and ip6tables rules and
# chains of kube-proxy, the kubelet and CNI (KUBE-*, CNI-*), the bridge, the
# node address (if the lab added it), the kubelet's cgroups and /var/log/containers links, and
# restore the saved sysctls.
node_iptables_cleanup() {
  local cmd
  for cmd in iptables ip6tables; do
    command -v "$cmd-save" >/dev/null || continue
    local script
    script=$("$cmd-save" 2>/dev/null | awk '
      /^\*/ { if (t != "") flush(); t = substr($0, 2); n = 0; m = 0; next }
      /^:(KUBE-|CNI-)/ { split(substr($0, 2), a, " "); chains[++n] = a[1]; next }
      /^-A / && !/^-A (KUBE-|CNI-)/ && / -j (KUBE-|CNI-)/ { sub(/^-A /, "-D "); dels[++m] = $0; next }
      END { if (t != "") flush() }
      function flush(   i) {
        if (n == 0 && m == 0) return
        print "*" t
        for (i = 1; i <= m; i++) print dels[i]
        for (i = 1; i <= n; i++) print "-F " chains[i]
        for (i = 1; i <= n; i++) print "-X " chains[i]
        print "COMMIT"
      }')
    if [ -n "$script" ]; then
      printf '%s\n' "$script" | "$cmd-restore" --noflush || lab_log "WARNING: $cmd cleanup failed"
    fi
  done
}

# Tables the node caused (not there before it) that hold no rule and no
# chain of their own any more.
node_nft_cleanup() {
  [ -f "$LAB_NODE_LOCK_DIR/nft-tables" ] && command -v nft >/dev/null || return 0
  local family name save
  while read -r _ family name; do
    grep -qx "table $family $name" "$LAB_NODE_LOCK_DIR/nft-tables" && continue
    case "$family" in ip) save=iptables-save ;; ip6) save=ip6tables-save ;; *) continue ;; esac
    if "$save" -t "$name" 2>/dev/null | grep -vE '^(#|\*|COMMIT$|:(INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) ACCEPT )' |
        grep -q .; then
      continue # still in use
    fi
    nft delete table "$family" "$name" 2>/dev/null || true
  done < <(nft list tables 2>/dev/null)
}

node_machine_cleanup() {
  node_iptables_cleanup
  node_nft_cleanup
  if ip link show "$LAB_NODE_BRIDGE" >/dev/null 2>&1; then
    # The kernel frees a pod's network namespace (and with it the host end of
    # its veth) some time after the last process and mount are gone; on a busy
    # machine that is later than this point. Deleting the host ends on our
    # bridge removes both ends now.
    local veth n=0
    for veth in $(ip -o link show master "$LAB_NODE_BRIDGE" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
      ip link del "$veth" 2>/dev/null && n=$((n + 1))
    done
    [ "$n" = 0 ] || lab_log "removed $n pod interfaces"
    ip link del "$LAB_NODE_BRIDGE" && lab_log "removed interface $LAB_NODE_BRIDGE"
  fi
  if [ -f "$LAB_NODE_LOCK_DIR/address" ]; then
    local addr
    addr=$(cat "$LAB_NODE_LOCK_DIR/address")
    local addresses
    addresses=$(ip -o addr show dev lo)
    if grep -q " inet $addr/" <<<"$addresses"; then
      ip addr del "$addr/32" dev lo && lab_log "removed address $addr"
    fi
  fi
  # The kubelet's pod cgroups (empty once the pods' processes are gone).
  local cg
  for cg in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    if [ -d "$cg" ]; then find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
  if [ -f "$LAB_NODE_LOCK_DIR/sysctl.saved" ]; then
    local k v
    while IFS='=' read -r k v; do
      [ "$(sysctl -n "$k" 2>/dev/null)" = "$v" ] || sysctl -qw "$k=$v" || lab_log "WARNING: could not restore $k=$v"
    done <"$LAB_NODE_LOCK_DIR/sysctl.saved"
    lab_log "restored sysctls"
  fi
  rm -rf "$LAB_NODE_LOCK_DIR"
}

# Stop the pods' processes, containerd and its shims, and unmount what the
# kubelet and containerd mounted under the node's directory.
node_owner() { [ -f "$LAB_NODE_LOCK_DIR/home" ] && [ "$(cat "$LAB_NODE_LOCK_DIR/home")" = "$LAB_HOME" ]; }

node_down() {
  [ -d "$LAB_NODE_DIR" ] || return 0 # an instance without a node
  lab_stop kubelet
  lab_stop kube-scheduler
  lab_stop coredns
  if lab_pid containerd >/dev/null && containerd_healthy; then
    local ids id
    ids=$(lab_ctr tasks ls -q 2>/dev/null || true)
    if [ -n "$ids" ]; then
      lab_log "stopping $(wc -w <<<"$ids") containers"
      for id in $ids; do lab_ctr tasks kill -s SIGTERM "$id" >/dev/null 2>&1 || true; done
      for _ in $(seq 1 20); do
        [ -z "$(lab_ctr tasks ls 2>/dev/null | awk 'NR>1 && $3=="RUNNING"')" ] && break
        sleep 0.25
      done
      for id in $ids; do
        lab_ctr tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
      done
      for id in $ids; do lab_ctr tasks delete -f "$id" >/dev/null 2>&1 || true; done
    fi
    # Forget the containers too: the kubelet starts the pods afresh next time.
    local cids
    mapfile -t cids < <(lab_ctr containers ls -q 2>/dev/null || true)
    [ ${#cids[@]} -eq 0 ] || lab_ctr containers rm "${cids[@]}" >/dev/null 2>&1 || true
  fi
  lab_stop containerd
  # Shims of our containerd (their command line names its socket).
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $LAB_CONTAINERD_SOCK" || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  # Container processes that outlived their shim (none normally) are still in
  # the kubelet's pod cgroups.
  if node_owner; then
    { find /sys/fs/cgroup/ -path '*/kubepods*' -name cgroup.procs -exec cat {} + 2>/dev/null || true; } |
      sort -u | while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  lab_stop kube-proxy
  if [ -d "$LAB_NODE_DIR" ]; then
    local mp n=0
    while read -r mp; do
      umount -l "$mp" 2>/dev/null && n=$((n + 1))
    done < <(awk -v d="$(realpath "$LAB_NODE_DIR")/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    [ "$n" = 0 ] || lab_log "unmounted $n mounts under $LAB_NODE_DIR"
    # Pod IP leases and sandbox state are void once the pods are gone.
    rm -rf "$LAB_CNI_DIR/ipam"
  fi
  if [ -d /var/log/containers ]; then
    find /var/log/containers -maxdepth 1 -type l -lname "$LAB_NODE_DIR/*" -delete
    rmdir /var/log/containers 2>/dev/null || true
  fi
}

# After the control plane stopped: the machine-wide part, if this instance
# holds the node lock.
node_release() {
  if node_owner; then node_machine_cleanup; fi
}
