"""The lab's worker node (tests/lab/up.sh --node) runs real pods: it registers
Ready; a pod from a locally built image runs and its logs and exec work; a pod
resolves cluster names through CoreDNS and reaches the API server through the
`kubernetes` Service; a pod reaches another pod through a Service; the
official Vault chart runs three OpenBao server pods in HA raft mode from the
lab's OpenBao image; kubernetes_port_forward's forwards end with a run killed by
SIGKILL and after their lifetime; vault_unseal unseals the chart StatefulSet's pods
and never a decoy pod with the chart's labels; a pod that lost its volume is back in the raft
cluster after one re-run of vault_unseal (its stale raft peer removed, never a second init);
up.sh leaves a healthy node alone; down.sh leaves no
process, mount, interface, iptables/ip6tables chain or changed sysctl behind.

By default this starts a private node lab (temporary VAULTKUBE_LAB_HOME, free
control-plane ports) and takes it down at the end; only one node lab can run
on a machine. LAB_SHARED=1 runs against the node lab of VAULTKUBE_LAB_HOME
(started with up.sh --node) instead, without the teardown test.

Needs root (containerd, iptables, mounts).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import pytest


from lab_helpers import LAB_DIR, PRIVATE_PORT_VARS, _lab_env, free_ports, kubectl_run, poll, wait_for
from vaultkube_testlib import VAULT_UNSEAL_PLAYBOOK


import image_tar
from ansible_collections.vaultkube.platform.plugins.module_utils._keyfile import read_key_file

pytestmark = pytest.mark.lab

SHARED = os.environ.get("LAB_SHARED") == "1"
REPO = os.path.dirname(os.path.dirname(LAB_DIR))
NODE_PORT_VARS = ("LAB_KUBELET_HEALTHZ_PORT", "LAB_SCHEDULER_PORT", "LAB_PROXY_HEALTHZ_PORT",
                  "LAB_PROXY_METRICS_PORT", "LAB_COREDNS_READY_PORT")
TOOLBOX_IMAGE = "vaultkube.local/lab-toolbox:test"


def _sh(cmd, env, check=True, timeout=600, stdin=None):
    return _checked(subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, input=stdin,
                                   check=False), check)


def _checked(res, check=True):
    """RES, or a test failure with its output when CHECK and it exited non-zero."""
    if check and res.returncode != 0:
        pytest.fail("%s failed (%s):\n%s\n%s" % (" ".join(res.args), res.returncode, res.stdout, res.stderr))
    return res


def _node_sysctls(env):
    out = _sh(["bash", "-c", 'source "$0/lib.sh"; source "$0/node.sh"; printf "%s\\n" "${LAB_NODE_SYSCTLS[@]}"',
               LAB_DIR], env).stdout
    return [k for k in out.split() if k]


def machine_state(sysctls):
    """What a node lab may add to the machine: interfaces, iptables chains
    and rules, sysctl values, mounts."""
    links = set(re.findall(r"^\d+: ([^:@]+)", _sh(["ip", "-o", "link", "show"], None).stdout, re.M))
    chains = {}
    for cmd in ("iptables-save", "ip6tables-save"):
        out = _sh([cmd], None).stdout
        chains[cmd] = sorted(set(re.findall(r"^:((?:KUBE|CNI)-\S+)", out, re.M)) |
                             {line for line in out.splitlines() if re.search(r"-j (KUBE|CNI)-", line)})
    values = {}
    for key in sysctls:
        res = _sh(["sysctl", "-n", key], None, check=False)
        if res.returncode == 0:
            values[key] = res.stdout.strip()
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f]
    addresses = _sh(["ip", "-o", "addr", "show"], None).stdout
    addresses = sorted(re.sub(r"\s+valid_lft.*", "", line) for line in addresses.splitlines())
    tables = None
    if shutil.which("nft"):
        tables = sorted(_sh(["nft", "list", "tables"], None).stdout.splitlines())
    return {"links": links, "chains": chains, "sysctls": values, "mounts": mounts,
            "addresses": addresses, "nft_tables": tables}


def node_processes(home):
    """Processes of a node lab: those whose command line names a file of its
    instance (containerd, shims, kubelet, kube-proxy, kube-scheduler, CoreDNS,
    the control plane) and those in the kubelet's pod cgroups (containers)."""
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmdline = f.read().decode(errors="replace")
            with open("/proc/%s/cgroup" % pid) as f:
                cgroups = f.read()
        except OSError:
            continue
        if home in cmdline or ":/kubepods" in cgroups:
            found.add((int(pid), cmdline.replace("\0", " ").strip()))
    return sorted(found)


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A running node lab: {"env": LAB_* values, "run_env": environment for
    the lab scripts, "before": machine state before it started}."""
    if SHARED:
        run_env = dict(os.environ)
        env = _lab_env(run_env)
        if env.get("LAB_NODE") != "1":
            pytest.fail("LAB_SHARED=1: the lab in %s has no node (start it with tests/lab/up.sh --node)"
                        % env["LAB_HOME"])
        _sh(["bash", os.path.join(LAB_DIR, "up.sh")], run_env)
        yield {"env": env, "run_env": run_env, "before": None, "home": None}
        return

    if os.geteuid() != 0:
        pytest.fail("the node lab needs root (containerd, iptables, mounts)")
    home = tempfile.mkdtemp(prefix="vaultkube-node-")
    run_env = dict(os.environ)
    run_env.update(free_ports(PRIVATE_PORT_VARS + NODE_PORT_VARS))
    run_env.update({"VAULTKUBE_LAB_HOME": home, "LAB_NODE": "1"})
    before = machine_state(_node_sysctls(run_env))
    t0 = time.monotonic()
    res = _sh(["bash", os.path.join(LAB_DIR, "up.sh")], run_env, check=False)
    if res.returncode != 0:
        _sh(["bash", os.path.join(LAB_DIR, "down.sh")], run_env, check=False)
        pytest.fail("up.sh --node failed:\n%s\n%s\n(logs kept in %s/logs)" % (res.stdout, res.stderr, home))
    print("\nnode lab up from nothing in %.1f s" % (time.monotonic() - t0))
    state = {"env": _lab_env(run_env), "run_env": run_env, "before": before, "home": home,
             "down": False}
    yield state
    if not state["down"]:
        _sh(["bash", os.path.join(LAB_DIR, "down.sh")], run_env, check=False)
    if state.get("clean"):
        _sh(["bash", os.path.join(LAB_DIR, "down.sh"), "--purge"], run_env, check=False)
        shutil.rmtree(home, ignore_errors=True)
    else:
        print("\nnode lab stopped; its state and logs are kept in %s" % home)


def kubectl(node, *args, check=True, stdin=None, timeout=120):
    res = kubectl_run(*args, binary=os.path.join(node["env"]["LAB_BIN"], "kubectl"),
                      kubeconfig=node["env"]["LAB_KUBECONFIG"], env=node["run_env"], check=False, stdin=stdin,
                      timeout=timeout)
    return _checked(res, check)


def helm(node, *args, check=True):
    return _sh([os.path.join(node["env"]["LAB_BIN"], "helm"), "--kubeconfig",
                node["env"]["LAB_KUBECONFIG"], *args], node["run_env"], check=check)


@pytest.fixture(scope="module")
def namespace(node):
    name = "node-" + uuid.uuid4().hex[:8]
    kubectl(node, "create", "namespace", name)
    # Pods need the namespace's default ServiceAccount (the token controller's).
    wait_for("default ServiceAccount in %s" % name,
             lambda: kubectl(node, "-n", name, "get", "serviceaccount", "default", check=False).returncode == 0,
             timeout=30)
    yield name
    kubectl(node, "delete", "namespace", name, "--wait=true", "--timeout=120s", check=False, timeout=180)


@pytest.fixture(scope="module")
def toolbox(node, tmp_path_factory):
    """A test image: Debian's static busybox plus the lab's kubectl, imported
    into the node's containerd like the lab's own images."""
    layer = image_tar.Layer()
    layer.add("bin/busybox", "file", "/bin/busybox", 0o755)
    for applet in image_tar.busybox_applets("/bin/busybox"):
        if applet != "busybox":
            layer.add("bin/" + applet, "symlink", "busybox", 0o777)
    layer.add("bin/kubectl", "file", os.path.join(node["env"]["LAB_BIN"], "kubectl"), 0o755)
    layer.add("tmp", "dir", None, 0o1777)
    tar = str(tmp_path_factory.mktemp("toolbox") / "toolbox.tar")
    image_tar.write_image(tar, TOOLBOX_IMAGE, layer,
                          {"Env": ["PATH=/bin"], "Entrypoint": ["/bin/sh", "-c"], "User": "65534:65534"})
    _sh(["ctr", "--address", node["env"]["LAB_CONTAINERD_SOCK"], "--namespace", "k8s.io",
         "images", "import", tar], node["run_env"])
    return TOOLBOX_IMAGE


def run_pod(node, ns, name, image, command, labels=None, port=None, service_account=None):
    container = {"name": "main", "image": image, "imagePullPolicy": "Never", "args": [command]}
    if port:
        container["ports"] = [{"containerPort": port}]
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": name}},
           "spec": {"containers": [container], "terminationGracePeriodSeconds": 1,
                    "automountServiceAccountToken": True}}
    if service_account:
        pod["spec"]["serviceAccountName"] = service_account
    kubectl(node, "apply", "-f", "-", stdin=json.dumps(pod))
    wait_for("pod %s/%s Running" % (ns, name),
             lambda: kubectl(node, "-n", ns, "get", "pod", name, "-o", "jsonpath={.status.phase}",
                             check=False).stdout == "Running", timeout=90)


def pod_exec(node, ns, pod, *cmd, check=True):
    return kubectl(node, "-n", ns, "exec", pod, "--", *cmd, check=check)


# ------------------------------------------------------------------- tests


def test_node_is_ready_on_its_address(node):
    env = node["env"]
    out = json.loads(kubectl(node, "get", "node", env["LAB_NODE_NAME"], "-o", "json").stdout)
    ready = [c for c in out["status"]["conditions"] if c["type"] == "Ready"][0]
    assert ready["status"] == "True", ready
    addresses = {a["type"]: a["address"] for a in out["status"]["addresses"]}
    assert addresses["InternalIP"] == env["LAB_NODE_IP"]
    assert out["status"]["nodeInfo"]["kubeletVersion"] == env["LAB_KUBERNETES_VERSION"]
    assert out["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://1.")
    # The API server listens on the node address and publishes it as the
    # `kubernetes` Service's endpoint (pods reach it there).
    assert env["LAB_API_URL"] == "https://%s:%s" % (env["LAB_NODE_IP"], env["LAB_APISERVER_PORT"])
    eps = json.loads(kubectl(node, "-n", "default", "get", "endpoints", "kubernetes", "-o", "json").stdout)
    subset = eps["subsets"][0]
    assert [a["ip"] for a in subset["addresses"]] == [env["LAB_NODE_IP"]]
    assert subset["ports"][0]["port"] == int(env["LAB_APISERVER_PORT"])


def test_pod_from_local_image_runs_with_logs_and_exec(node, namespace, toolbox):
    run_pod(node, namespace, "hello", toolbox,
            "echo hello from $(hostname); exec sleep 3600")
    wait_for("pod log", lambda: "hello from hello" in kubectl(
        node, "-n", namespace, "logs", "hello", check=False).stdout, timeout=30)
    res = pod_exec(node, namespace, "hello", "id", "-u")
    assert res.stdout.strip() == "65534"
    ip = kubectl(node, "-n", namespace, "get", "pod", "hello", "-o", "jsonpath={.status.podIP}").stdout
    import ipaddress
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(node["env"]["LAB_NODE_POD_CIDR"])
    images = kubectl(node, "get", "node", node["env"]["LAB_NODE_NAME"], "-o",
                     "jsonpath={.status.images[*].names}").stdout
    for image in ("LAB_IMAGE_PAUSE", "LAB_IMAGE_OPENBAO", "LAB_IMAGE_ESO", "LAB_IMAGE_RELOADER"):
        assert node["env"][image] in images


def test_pod_resolves_cluster_names_and_reaches_the_api_server(node, namespace, toolbox):
    env = node["env"]
    run_pod(node, namespace, "client", toolbox, "exec sleep 3600")
    svc_ip = kubectl(node, "-n", "default", "get", "service", "kubernetes",
                     "-o", "jsonpath={.spec.clusterIP}").stdout
    # CoreDNS, the pods' nameserver, answers the Service's name.
    resolv = pod_exec(node, namespace, "client", "cat", "/etc/resolv.conf").stdout
    assert "nameserver %s" % env["LAB_NODE_IP"] in resolv
    assert "search %s.svc.cluster.local svc.cluster.local cluster.local" % namespace in resolv
    res = pod_exec(node, namespace, "client", "nslookup", "kubernetes.default.svc.cluster.local")
    assert "Address: %s" % svc_ip in res.stdout, res.stdout
    # In-cluster configuration: the Service's address from the environment,
    # the ServiceAccount token and CA; the certificate must verify.
    version = json.loads(pod_exec(node, namespace, "client", "kubectl", "get", "--raw", "/version").stdout)
    assert version["gitVersion"] == env["LAB_KUBERNETES_VERSION"]
    # By the short name `kubernetes.default` (the search list completes it)
    # through CoreDNS: the serving certificate covers it, and the API server
    # authenticates the pod's ServiceAccount token.
    sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount"
    for server in ("https://kubernetes.default", "https://kubernetes.default.svc.cluster.local:443"):
        who = pod_exec(node, namespace, "client", "sh", "-c",
                       "kubectl --server %s --certificate-authority %s/ca.crt --token \"$(cat %s/token)\" "
                       "auth whoami -o jsonpath='{.status.userInfo.username}'" % (server, sa_dir, sa_dir)).stdout
        assert who == "system:serviceaccount:%s:default" % namespace


def test_pod_reaches_a_pod_on_the_same_node_through_a_service(node, namespace, toolbox):
    run_pod(node, namespace, "echo", toolbox, "exec nc -ll -p 8080 -e echo pong-from-echo",
            labels={"app": "echo"}, port=8080)
    kubectl(node, "-n", namespace, "expose", "pod", "echo", "--name", "echo", "--port", "80",
            "--target-port", "8080")
    run_pod(node, namespace, "caller", toolbox, "exec sleep 3600")
    wait_for("reply through the echo Service", lambda: "pong-from-echo" in pod_exec(
        node, namespace, "caller", "sh", "-c", "nc -w 3 echo 80 </dev/null", check=False).stdout,
        timeout=60)


def test_port_forward_reaches_a_pod_from_the_host(node, namespace, toolbox):
    """The path a controller outside the pod network takes: the API server's
    port-forward through the kubelet and containerd into the pod."""
    run_pod(node, namespace, "forwarded", toolbox, "exec nc -ll -p 8080 -e echo pong-through-api",
            port=8080)
    port = free_ports(["p"])["p"]
    proc = subprocess.Popen(  # pylint: disable=consider-using-with
        [os.path.join(node["env"]["LAB_BIN"], "kubectl"), "--kubeconfig", node["env"]["LAB_KUBECONFIG"],
         "-n", namespace, "port-forward", "pod/forwarded", "%s:8080" % port],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=node["run_env"])
    try:
        assert "Forwarding from 127.0.0.1:%s" % port in proc.stdout.readline()
        assert "pong-through-api" in wait_for("a reply through port-forward", lambda: _pong(port), timeout=30)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# The chart's HA raft configuration with the listener vault_install gives OpenBao: OpenBao 2.5.3
# and later disable the unauthenticated sys/generate-root endpoints, which an admin token made
# from the unseal keys (no root token kept) needs.
HA_RAFT_CONFIG_GENERATE_ROOT = """\
ui = true
listener "tcp" {
  tls_disable = 1
  address = "[::]:8200"
  cluster_address = "[::]:8201"
  disable_unauthed_generate_root_endpoints = false
}
storage "raft" {
  path = "/vault/data"
}
service_registration "kubernetes" {}
"""


def _install_ha_chart(node, release, raft_config=None):
    """The Vault chart in HA raft (3 pods on the one node) with the lab's OpenBao image,
    release and namespace both named release."""
    repo, tag = node["env"]["LAB_IMAGE_OPENBAO"].rsplit(":", 1)
    config, folder = [], None
    if raft_config:
        # A values file: --set would split the configuration at its commas.
        folder = tempfile.mkdtemp(prefix="vault-values-")
        with open(os.path.join(folder, "values.json"), "w") as f:
            json.dump({"server": {"ha": {"raft": {"config": raft_config}}}}, f)
        config = ["-f", os.path.join(folder, "values.json")]
    try:
        helm(node, "install", release, _chart_dir(), "-n", release, "--create-namespace",
             "--set", "server.image.repository=" + repo, "--set", "server.image.tag=" + tag,
             "--set", "server.image.pullPolicy=Never", "--set", "injector.enabled=false",
             "--set", "server.ha.enabled=true", "--set", "server.ha.replicas=3",
             "--set", "server.ha.raft.enabled=true", "--set", "server.affinity=", *config)
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


def _chart_dir():
    # tests/setup.sh finds the chart (in place, or its cached copy) and exports its folder.
    chart = os.environ.get("VAULTKUBE_VAULT_CHART", "")
    if not os.path.isfile(os.path.join(chart, "Chart.yaml")):
        pytest.fail("the Vault chart 0.34.1 is not found: put it in ../shared/charts/vault-0.34.1 "
                    "beside the project or set VAULTKUBE_VAULT_CHART, then run tests/setup.sh")
    return os.path.abspath(chart)


def test_vault_chart_ha_raft_runs_from_the_openbao_image(node):
    # A release name of its own: the chart's cluster-wide objects (the
    # auth-delegator ClusterRoleBinding) are named after the release.
    release = "vault-" + uuid.uuid4().hex[:6]
    ns = release
    pods = ["%s-%d" % (release, i) for i in range(3)]
    try:
        _install_ha_chart(node, release)

        def running():
            items = json.loads(kubectl(node, "-n", ns, "get", "pods", "-o", "json").stdout)["items"]
            phases = {p["metadata"]["name"]: p["status"].get("phase") for p in items}
            return phases if phases == dict.fromkeys(pods, "Running") else None

        wait_for("3 vault pods Running", running, timeout=120)
        # Each data volume is bound to one of the lab's hostPath volumes.
        pvcs = json.loads(kubectl(node, "-n", ns, "get", "pvc", "-o", "json").stdout)["items"]
        assert sorted(p["metadata"]["name"] for p in pvcs) == ["data-" + p for p in pods]
        assert all(p["status"]["phase"] == "Bound" for p in pvcs)
        assert all(p["spec"]["storageClassName"] == "lab-local" for p in pvcs)
        # The chart's own CLI calls work through /bin/vault -> bao: a fresh
        # server answers uninitialised and sealed (exit code 2).
        for pod in pods:
            def sealed_status(pod=pod):
                res = pod_exec(node, ns, pod, "vault", "status", "-format=json", check=False)
                return res if res.returncode == 2 else None

            status = json.loads(wait_for("vault status in %s" % pod, sealed_status, timeout=60).stdout)
            assert status["initialized"] is False and status["sealed"] is True, status
            assert status["storage_type"] == "raft"
    finally:
        helm(node, "uninstall", release, "-n", ns, "--wait", check=False)
        kubectl(node, "delete", "namespace", ns, "--wait=true", "--timeout=120s", check=False, timeout=180)
        # Free the lab volumes the claims held (as up.sh does).
        _sh(["bash", "-c", 'source "$0/lib.sh"; source "$0/node.sh"; node_volumes_recycle', LAB_DIR],
            node["run_env"])


# ---- kubernetes_port_forward with the real kubectl and a real pod: bounded in time and owner

PF_PLAY = """\
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - vaultkube.platform.kubernetes_port_forward:
        namespace: %(ns)s
        resource: pod/%(pod)s
        remote_port: 8080
        kubeconfig: %(kubeconfig)s
        kubectl_binary: %(kubectl)s
      register: forward
    - ansible.builtin.copy:
        content: "{{ forward | to_json }}"
        dest: %(out)s
        mode: "0600"
    - ansible.builtin.pause:
        seconds: 300
"""


def _ansible_bin(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _forwards_to(ns):
    """kubectl port-forward processes of namespace ns (their command lines name it)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "port-forward" in args and ns in args:
            found.append(int(pid))
    return found


def _gone_within(pids, seconds):
    """Seconds until every pid is gone, or None when one still runs after SECONDS."""
    t0 = time.monotonic()
    gone, _last = poll(lambda: not any(_alive(pid) for pid in pids), seconds, 0.1)
    return time.monotonic() - t0 if gone else None


def _pong(port):
    import socket
    with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as sock:
        return sock.recv(100).decode()


def test_port_forward_module_ends_with_a_killed_run(node, namespace, toolbox, tmp_path):
    """A run killed with SIGKILL (no always block, no close task) leaves no kubectl
    port-forward behind: the supervisor sees its ansible-playbook gone and stops kubectl."""
    run_pod(node, namespace, "pf-killed", toolbox, "exec nc -ll -p 8080 -e echo pong-killed", port=8080)
    out = tmp_path / "forward.json"
    play = tmp_path / "forward.yml"
    play.write_text(PF_PLAY % {"ns": namespace, "pod": "pf-killed", "kubeconfig": node["env"]["LAB_KUBECONFIG"],
                               "kubectl": os.path.join(node["env"]["LAB_BIN"], "kubectl"), "out": out})
    run = subprocess.Popen([_ansible_bin("ansible-playbook"), "-i", "localhost,", str(play)],  # noqa: SIM115
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable))
    try:
        forward = json.loads(wait_for("the forward's result", lambda: out.exists() and out.read_text(),
                                      timeout=90))
        assert forward["owner_pid"] == run.pid, forward
        assert "pong-killed" in wait_for("a reply through the forward", lambda: _pong(forward["local_port"]),
                                         timeout=30)
        assert _forwards_to(namespace) == [forward["kubectl_pid"]]
    finally:
        run.kill()
        run.wait()
    # One owner check (1 s) + kubectl's stop (TERM, at most 3 s before KILL), and some slack.
    took = _gone_within([forward["pid"], forward["kubectl_pid"]], 10)
    assert took is not None, "kubectl port-forward outlived the killed run by 10 s"
    assert _forwards_to(namespace) == []
    print("\nforward gone %s s after kill -9 of its ansible-playbook" % round(took, 1))


def test_port_forward_module_ends_after_its_lifetime(node, namespace, toolbox):
    run_pod(node, namespace, "pf-lifetime", toolbox, "exec nc -ll -p 8080 -e echo pong-lifetime", port=8080)
    cmd = [_ansible_bin("ansible"), "localhost", "-i", "localhost,", "-c", "local", "-o",
           "-m", "vaultkube.platform.kubernetes_port_forward",
           "-a", json.dumps({"namespace": namespace, "resource": "pod/pf-lifetime", "remote_port": 8080,
                             "kubeconfig": node["env"]["LAB_KUBECONFIG"], "lifetime": 8,
                             "kubectl_binary": os.path.join(node["env"]["LAB_BIN"], "kubectl"),
                             "close_with_controller": False})]
    t0 = time.monotonic()
    res = _sh(cmd, dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable))
    forward = json.loads(res.stdout[res.stdout.index("{"):])
    assert forward["owner_pid"] is None and forward["lifetime"] == 8
    assert "pong-lifetime" in _pong(forward["local_port"])
    assert _alive(forward["kubectl_pid"]), "the forward must outlive the ad hoc command"
    took = _gone_within([forward["pid"], forward["kubectl_pid"]], 8 + 10)
    assert took is not None, "the forward outlived its lifetime by 10 s"
    total = time.monotonic() - t0
    assert total >= 8, "closed before its lifetime (%.1f s)" % total
    assert _forwards_to(namespace) == []
    print("\nforward with lifetime 8 s closed %.1f s after it was opened" % total)


# ---- vault_unseal finds the Vault pods through the chart's StatefulSet, never by labels

# The root token revoked at the end of a play, as site.yml does, through a pod of the StatefulSet.
REVOKE_PLAY = VAULT_UNSEAL_PLAYBOOK + """\
  tasks:
    - name: Revoke the run's admin token
      ansible.builtin.include_role:
        name: vaultkube.platform.vault_unseal
        tasks_from: revoke
"""

DECOY_SCRIPT = (
    "mkdir -p /vault/data/decoy && printf '%s\\n' "
    "'storage \"raft\" { path = \"/vault/data/decoy\" }' "
    "'listener \"tcp\" { address = \"0.0.0.0:8200\"\n tls_disable = 1 }' "
    "'disable_mlock = true' 'api_addr = \"http://127.0.0.1:8200\"' 'cluster_addr = \"http://127.0.0.1:8201\"' "
    "> /vault/config/decoy.hcl && exec vault server -config=/vault/config/decoy.hcl")


def _bao_status(node, ns, pod):
    res = kubectl(node, "-n", ns, "exec", pod, "--", "vault", "status", "-address=http://127.0.0.1:8200",
                  "-format=json", check=False)
    return json.loads(res.stdout) if res.returncode in (0, 2) and res.stdout.strip() else None


def _unseal_vars(env, release, **extra):
    """vault_unseal's variables for the chart's release (namespace of the same name) on the node lab,
    through port-forwards, 3 shares and a threshold of 2; ``extra`` adds or overrides."""
    return dict(dict(
        ansible_python_interpreter=sys.executable,
        vault_unseal_port_forward=True, vault_unseal_url="http://127.0.0.1:8200",
        vault_unseal_kubernetes_namespace=release, vault_unseal_kubernetes_release=release,
        vault_unseal_kubeconfig=env["LAB_KUBECONFIG"],
        vault_unseal_kubectl_binary=os.path.join(env["LAB_BIN"], "kubectl"),
        vault_unseal_secret_shares=3, vault_unseal_secret_threshold=2), **extra)


def test_vault_unseal_unseals_only_the_statefulset_pods(node, tmp_path):
    env = node["env"]
    release = "vault-" + uuid.uuid4().hex[:6]
    ns = release
    pods = ["%s-%d" % (release, i) for i in range(3)]
    labels = {"app.kubernetes.io/name": "vault", "app.kubernetes.io/instance": release, "component": "server"}
    try:
        _install_ha_chart(node, release)
        # The decoy: a real OpenBao server (uninitialised, sealed) with the chart's server labels,
        # not made by the StatefulSet. Found by labels it would be joined and unsealed.
        decoy = {"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": release + "-decoy", "namespace": ns, "labels": labels},
                 "spec": {"terminationGracePeriodSeconds": 1,
                          "containers": [{"name": "vault", "image": env["LAB_IMAGE_OPENBAO"],
                                          "imagePullPolicy": "Never", "command": ["/bin/sh", "-c", DECOY_SCRIPT],
                                          "ports": [{"containerPort": 8200}]}]}}
        kubectl(node, "apply", "-f", "-", stdin=json.dumps(decoy))

        def running():
            items = json.loads(kubectl(node, "-n", ns, "get", "pods", "-o", "json").stdout)["items"]
            phases = {p["metadata"]["name"]: p["status"].get("phase") for p in items}
            return phases if phases == dict.fromkeys(pods + [release + "-decoy"], "Running") else None

        wait_for("3 vault pods and the decoy Running", running, timeout=120)
        for pod in pods + [release + "-decoy"]:
            status = wait_for("%s answers" % pod, lambda pod=pod: _bao_status(node, ns, pod), timeout=60)
            assert status["initialized"] is False and status["sealed"] is True

        base = _unseal_vars(
            env, release, vault_unseal_keys_file=str(tmp_path / "keys" / "vault-init.vault"),
            vault_unseal_keys_password="discovery-" + uuid.uuid4().hex, vault_unseal_wait_timeout=90,
            # This test reads Vault with the initial root token: kept (the default revokes it).
            vault_unseal_revoke_root_token=False)
        play = tmp_path / "unseal.yml"
        play.write_text(VAULT_UNSEAL_PLAYBOOK)
        run_env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                       ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_PYTHON_INTERPRETER=sys.executable)

        def unseal(extra):
            t0 = time.monotonic()
            res = _sh([_ansible_bin("ansible-playbook"), "-i", "localhost,", str(play),
                       "-e", json.dumps(dict(base, **extra))], run_env, check=False, timeout=900)
            doc = json.loads(res.stdout)
            tasks = [(t["task"]["name"].split(" : ", 1)[-1], t["hosts"].get("localhost") or {})
                     for t in doc["plays"][0]["tasks"]]
            return res, tasks, time.monotonic() - t0

        res, tasks, took = unseal({})
        failed = [(name, result.get("msg")) for name, result in tasks if result.get("failed")]
        assert res.returncode == 0 and not failed, failed or res.stderr[-2000:]
        found = [result for name, result in tasks if name.startswith("Find the Vault server pods")][0]
        assert [p["name"] for p in found["pods"]] == pods
        assert [(p["name"], p["reason"]) for p in found["ignored"]] == [(release + "-decoy", "has no controller")]
        forwards = [result for name, result in tasks if name == "Open a port-forward to each running server pod"][0]
        assert [item["item"] for item in forwards["results"]] == pods, "a forward to another pod was opened"
        assert all(item["owner_pid"] for item in forwards["results"]), "each forward watches the run"
        # Read back: the chart's pods are initialised and unsealed, one active; the decoy untouched.
        statuses = {pod: _bao_status(node, ns, pod) for pod in pods}
        for pod, status in statuses.items():
            assert status["initialized"] is True and status["sealed"] is False, (pod, status)
        decoy_status = _bao_status(node, ns, release + "-decoy")
        assert decoy_status["initialized"] is False and decoy_status["sealed"] is True, decoy_status
        assert _forwards_to(ns) == [], "the role's close step left a forward"
        print("\nvault_unseal through the StatefulSet: 3 pods unsealed, decoy ignored, %.1f s" % took)

        # The run's admin token is revoked through a pod of the StatefulSet, never through a pod
        # the Service's labels select (the decoy carries them); this run also revokes the initial
        # root token (the default). Read back from Vault in the pod and from the keys file.
        token = read_key_file(base["vault_unseal_keys_file"], base["vault_unseal_keys_password"])["root_token"]

        def lookup():
            return kubectl(node, "-n", ns, "exec", "-i", pods[1], "--", "/bin/sh", "-c",
                           "VAULT_TOKEN=$(cat) exec vault token lookup -address=http://127.0.0.1:8200 -format=json",
                           stdin=token, check=False)

        assert lookup().returncode == 0, "the root token should work before the revoke"
        play.write_text(REVOKE_PLAY)
        res, tasks, _took = unseal({"vault_unseal_revoke_root_token": True})
        failed = [(name, result.get("msg")) for name, result in tasks if result.get("failed")]
        assert res.returncode == 0 and not failed, failed or res.stderr[-2000:]
        found = [result for name, result in tasks if name.startswith("Find the Vault server pods to send")][0]
        assert [p["name"] for p in found["pods"]] == pods
        forward = [result for name, result in tasks if name.startswith("Open a port-forward to a Vault pod of")][0]
        assert forward["invocation"]["module_args"]["resource"] == "pod/" + pods[0], forward.get("invocation")
        revoked = [result for name, result in tasks if name.startswith("Revoke the run's admin token")][0]
        assert not revoked.get("skipped") and not revoked.get("failed"), revoked
        after = lookup()
        assert after.returncode != 0 and "permission denied" in (after.stdout + after.stderr), after.stderr[-500:]
        assert "root_token" not in read_key_file(base["vault_unseal_keys_file"], base["vault_unseal_keys_password"])
        assert _bao_status(node, ns, release + "-decoy")["initialized"] is False
        assert _forwards_to(ns) == [], "the revoke left a forward"
        print("admin token revoked through pod/%s (decoy ignored); initial root token refused and "
              "gone from the keys file" % pods[0])
        play.write_text(VAULT_UNSEAL_PLAYBOOK)

        # A StatefulSet that does not exist: one line, no pod contacted.
        res, tasks, _took = unseal({"vault_unseal_kubernetes_statefulset": release + "-absent"})
        failed = [(name, result.get("msg")) for name, result in tasks if result.get("failed")]
        assert res.returncode != 0 and len(failed) == 1, failed
        assert failed[0][0] == "Stop when the chart's StatefulSet is missing"
        assert failed[0][1].startswith("vault_unseal: StatefulSet %s/%s-absent does not exist, so no pod was "
                                       "contacted" % (ns, release)) and "\n" not in failed[0][1]
        assert not any(name == "Open a port-forward to each running server pod" and result.get("results")
                       for name, result in tasks)
    finally:
        helm(node, "uninstall", release, "-n", ns, "--wait", check=False)
        kubectl(node, "delete", "namespace", ns, "--wait=true", "--timeout=120s", check=False, timeout=180)
        _sh(["bash", "-c", 'source "$0/lib.sh"; source "$0/node.sh"; node_volumes_recycle', LAB_DIR],
            node["run_env"])


class _Forward:
    """kubectl port-forward to one pod's 8200 for the test's own requests; .url while open."""

    def __init__(self, node, ns, pod):
        self.proc = subprocess.Popen([os.path.join(node["env"]["LAB_BIN"], "kubectl"), "--kubeconfig",
                                      node["env"]["LAB_KUBECONFIG"], "-n", ns, "port-forward", "pod/" + pod, ":8200"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=node["run_env"])
        self.url = "http://127.0.0.1:%s" % re.search(r"127\.0\.0\.1:(\d+)", self.proc.stdout.readline()).group(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _secret_custody(node, ns, password, tmp_path):
    """The keys Secret's content, decrypted (data key init.vault, the keys file's format)."""
    import base64
    data = json.loads(kubectl(node, "-n", ns, "get", "secret", "vault-unseal-keys", "-o", "json").stdout)["data"]
    blob = tmp_path / ("secret-%s.vault" % uuid.uuid4().hex[:6])
    blob.write_bytes(base64.b64decode(data["init.vault"]))
    try:
        return read_key_file(str(blob), password)
    finally:
        blob.unlink()


def _test_admin_token(node, ns, pods, keys_file, password, run_env):
    """An orphan root-policy token for the test's reads, made by vault_admin_token from the keys
    file through a port-forward to the active pod (sys/generate-root), kept from tracebacks."""
    active = [p for p in pods if (_bao_status(node, ns, p) or {}).get("is_self")][0]
    with _Forward(node, ns, active) as forward:
        args = {"url": forward.url, "keys_file": keys_file, "keys_file_vault_password": password,
                "ttl": "2h", "display_name": "lost-volume-test", "revoke_initial": False}
        res = _sh([_ansible_bin("ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m",
                   "vaultkube.platform.vault_admin_token", "-a", json.dumps(args)], run_env, check=False, timeout=300)
        result = json.loads(res.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
        assert not result.get("failed") and result.get("token"), result.get("msg")
        return _Hidden(result["token"])


class _Hidden(str):
    """A token that a failing assertion's traceback does not print."""

    def __repr__(self):
        return "'<hidden>'"


def _vault_cli(node, ns, pod, token, *args, check=True):
    """The vault CLI in a pod, the token on stdin (never in argv)."""
    res = kubectl(node, "-n", ns, "exec", "-i", pod, "--", "/bin/sh", "-c",
                  'VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=$(cat) exec vault "$@"', "vault", *args,
                  stdin=token, check=False)
    if check:
        assert res.returncode == 0, (args, res.stdout[-500:], res.stderr[-500:])
    return res


def test_lost_volume_pod_rejoins_and_vault_is_never_initialised_twice(node, tmp_path):
    """Issue 22 item 4: vault-0 loses its volume while the other two pods hold the cluster, and the
    keys file is offline; one re-run joins vault-0 (three raft peers, one cluster, same data) and
    never initialises it as a second Vault. Every claim is read back from the pods and the API server."""
    env = node["env"]
    release = "vault-" + uuid.uuid4().hex[:6]
    ns = release
    pods = ["%s-%d" % (release, i) for i in range(3)]
    try:
        _install_ha_chart(node, release, HA_RAFT_CONFIG_GENERATE_ROOT)

        def running():
            items = json.loads(kubectl(node, "-n", ns, "get", "pods", "-o", "json").stdout)["items"]
            phases = {p["metadata"]["name"]: p["status"].get("phase") for p in items}
            return items if phases == dict.fromkeys(pods, "Running") else None

        wait_for("3 vault pods Running", running, timeout=120)
        for pod in pods:
            wait_for("%s answers" % pod, lambda pod=pod: _bao_status(node, ns, pod), timeout=60)

        keys_file = tmp_path / "keys" / "vault-init.vault"
        base = _unseal_vars(
            env, release, vault_unseal_keys_storage="kubernetes_secret",
            vault_unseal_keys_secret_namespace=ns, vault_unseal_keys_secret_name="vault-unseal-keys",
            vault_unseal_keys_file=str(keys_file),
            vault_unseal_keys_password="lost-volume-" + uuid.uuid4().hex, vault_unseal_wait_timeout=120)
        play = tmp_path / "unseal.yml"
        play.write_text(VAULT_UNSEAL_PLAYBOOK)
        run_env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                       ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_PYTHON_INTERPRETER=sys.executable)

        def unseal():
            t0 = time.monotonic()
            res = _sh([_ansible_bin("ansible-playbook"), "-i", "localhost,", str(play),
                       "-e", json.dumps(base)], run_env, check=False, timeout=900)
            doc = json.loads(res.stdout)
            tasks = [(t["task"]["name"].split(" : ", 1)[-1], t["hosts"].get("localhost") or {})
                     for t in doc["plays"][0]["tasks"]]
            failed = [(name, result.get("msg"), [(r.get("item"), r.get("msg")) for r in result.get("results", [])
                                                 if r.get("failed")])
                      for name, result in tasks if result.get("failed")]
            if res.returncode != 0 or failed:
                for pod in pods:  # the servers' own account of a failed join
                    logs = kubectl(node, "-n", ns, "logs", pod, "--tail=40", check=False).stdout
                    print("\n--- logs of %s ---\n%s" % (pod, logs))
            assert res.returncode == 0 and not failed, failed or res.stderr[-2000:]
            return tasks, doc["stats"]["localhost"], time.monotonic() - t0

        def secret_data():
            res = kubectl(node, "-n", ns, "get", "secret", "vault-unseal-keys", "-o", "json")
            return json.loads(res.stdout)["data"]

        first_tasks, _stats, took = unseal()
        # The run ends only when autopilot has made the two followers voters: the cluster then
        # survives the loss of any one pod (with vault-0 the only voter it would not).
        voters = [result for name, result in first_tasks if name.startswith("Wait until every raft peer is a voter")][0]
        assert not voters.get("skipped") and not voters.get("failed"), voters
        statuses = {pod: _bao_status(node, ns, pod) for pod in pods}
        assert all(s["initialized"] and not s["sealed"] for s in statuses.values()), statuses
        cluster_id = statuses[pods[1]]["cluster_id"]
        assert {s["cluster_id"] for s in statuses.values()} == {cluster_id}
        print("\nHA chart: 3 pods initialised and unsealed in %.1f s" % took)
        custody_before = secret_data()
        keys_before = read_key_file(str(keys_file), base["vault_unseal_keys_password"])
        # The role revoked the initial root token (the default): no root token in custody, so the
        # re-run must make its admin token with sys/generate-root from the Secret's shares. The
        # test reads Vault with a token of its own, from the keys file while it is still here.
        assert "root_token" not in keys_before
        token = _test_admin_token(node, ns, pods, str(keys_file), base["vault_unseal_keys_password"], run_env)
        _vault_cli(node, ns, pods[1], token, "secrets", "enable", "-path=kv", "kv-v2")
        # A new kv-v2 mount answers "upgrading" for a moment.
        wait_for("kv put", lambda: _vault_cli(node, ns, pods[1], token, "kv", "put", "kv/app",
                                              "password=still-here", check=False).returncode == 0, timeout=60)

        # vault-0 loses its volume: the claim and the pod are deleted; the StatefulSet makes
        # both again, and vault-0 starts empty (uninitialised) on a fresh volume.
        old = {p["metadata"]["name"]: p["metadata"]["uid"] for p in running()}
        old_volume = json.loads(kubectl(node, "-n", ns, "get", "pvc", "data-" + pods[0], "-o", "json").stdout)
        kubectl(node, "-n", ns, "delete", "pvc", "data-" + pods[0], "--wait=false")
        kubectl(node, "-n", ns, "delete", "pod", pods[0], "--wait=true", "--timeout=120s", timeout=180)

        def replaced():
            items = running()
            if not items or {p["metadata"]["name"]: p["metadata"]["uid"] for p in items}[pods[0]] == old[pods[0]]:
                return None
            claim = json.loads(kubectl(node, "-n", ns, "get", "pvc", "data-" + pods[0], "-o", "json",
                                       check=False).stdout or "{}")
            return claim if claim.get("status", {}).get("phase") == "Bound" else None

        claim = wait_for("a new %s on a new volume" % pods[0], replaced, timeout=180)
        assert claim["spec"]["volumeName"] != old_volume["spec"]["volumeName"], "the old volume came back"
        wiped = wait_for("%s answers" % pods[0], lambda: _bao_status(node, ns, pods[0]), timeout=60)
        assert wiped["initialized"] is False, wiped

        # What the two remaining peers hold for the lost one (read back before the re-run), once
        # they have elected a new active node ("active cluster node not found" until then).
        listed = wait_for("an active node among the remaining pods", lambda: _vault_cli(
            node, ns, pods[1], token, "operator", "raft", "list-peers", "-format=json", check=False).stdout or None,
            timeout=120)
        peers = json.loads(listed)["data"]["config"]["servers"]
        print("raft peers before the re-run: %s" % [(s["node_id"], s["address"], s["voter"]) for s in peers])
        stale_id = [s["node_id"] for s in peers if s["address"].startswith(pods[0] + ".")][0]
        assert len(peers) == 3 and all(s["voter"] for s in peers), "vault-0's old peer and two voters expected"

        # The keys file goes offline: the Secret is the only custody left.
        offline = tmp_path / "offline.vault"
        shutil.move(str(keys_file), str(offline))

        tasks, _stats, took = unseal()
        inits = [name for name, result in tasks if name.startswith("Initialise Vault") and not result.get("skipped")]
        assert inits == [], "an init task ran: %s" % inits
        plan = [result for name, result in tasks if name.startswith("Ask every node")][0]
        assert plan["initialized"] is True and plan["init_node"] is None
        assert [j["pod"] for j in plan["joiners"]] == [pods[0]]
        joined = [result for name, result in tasks if name == "Join the new raft followers to the active node"][0]
        assert [r["item"]["pod"] for r in joined["results"] if r.get("changed")] == [pods[0]]
        # Only vault-0's stale peer was removed before its join, and the configuration read back
        # without it held the two others.
        join = joined["results"][0]
        assert join["removed_peers"] == [{"node_id": stale_id, "address": "%s.%s-internal:8201" % (pods[0], release)}]
        assert sorted(p["address"] for p in join["peers"]) == [
            "%s.%s-internal:8201" % (pod, release) for pod in pods[1:]]
        # Read back: vault-0 is a member of the same cluster again, unsealed; three raft peers; the data.
        statuses = {pod: _bao_status(node, ns, pod) for pod in pods}
        assert all(s["initialized"] and not s["sealed"] for s in statuses.values()), statuses
        assert {s["cluster_id"] for s in statuses.values()} == {cluster_id}, "a second cluster was made"

        def three_voters():
            res = _vault_cli(node, ns, pods[0], token, "operator", "raft", "list-peers", "-format=json", check=False)
            if res.returncode != 0:
                return None
            servers = json.loads(res.stdout)["data"]["config"]["servers"]
            return servers if len(servers) == 3 and all(s["voter"] for s in servers) else None

        servers = wait_for("three raft voters", three_voters, timeout=120)
        # The chart's node ids are random (server.ha.raft.setNodeId is off): the peers are told
        # apart by their cluster addresses, one per pod, and vault-0's old peer id is gone.
        assert sorted(s["address"] for s in servers) == ["%s.%s-internal:8201" % (pod, release) for pod in pods]
        assert stale_id not in [s["node_id"] for s in servers]
        read = json.loads(_vault_cli(node, ns, pods[0], token, "kv", "get", "-format=json", "kv/app").stdout)
        assert read["data"]["data"] == {"password": "still-here"}
        # Custody was not replaced by keys of another Vault: the Secret is as it was, and a keys file
        # written back (if the role restores the backup) holds the same keys.
        assert secret_data() == custody_before, "the keys Secret changed"
        if keys_file.exists():
            assert read_key_file(str(keys_file), base["vault_unseal_keys_password"]) == keys_before
        print("%s rejoined after one re-run in %.1f s: 3 voters, cluster %s, data read back"
              % (pods[0], took, cluster_id))

        _tasks, stats, _took = unseal()
        assert stats["changed"] == 0, [name for name, result in _tasks if result.get("changed")]
        assert secret_data() == custody_before

        # Rekey on the node lab (issue 22 item 3), the keys Secret the only custody: vault_rekey
        # through a port-forward to the active pod; then a restarted pod refuses the old set and
        # the role unseals it with the new one, read from the Secret.
        import requests
        password = base["vault_unseal_keys_password"]
        old_keys = _secret_custody(node, ns, password, tmp_path)["keys"]
        assert old_keys == keys_before["keys"]
        active = [p for p in pods if (_bao_status(node, ns, p) or {}).get("is_self")][0]
        with _Forward(node, ns, active) as forward:
            # Both places of custody, as playbooks/rekey.yml passes them (the keys file is back:
            # the role wrote it again from the Secret).
            assert keys_file.exists()
            args = {"url": forward.url, "token": str(token), "secret_shares": 3, "secret_threshold": 2,
                    "keys_secret_namespace": ns, "keys_secret_name": "vault-unseal-keys", "keys_file": str(keys_file),
                    "keys_file_vault_password": password, "kubeconfig": env["LAB_KUBECONFIG"]}
            t0 = time.monotonic()
            res = _sh([_ansible_bin("ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m",
                       "vaultkube.platform.vault_rekey", "-a", json.dumps(args)], run_env, check=False, timeout=300)
            rekey_seconds = time.monotonic() - t0
        rekeyed = json.loads(res.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
        assert not rekeyed.get("failed"), rekeyed.get("msg")
        for secret in old_keys + [str(token), password]:
            assert secret not in res.stdout + res.stderr
        after = _secret_custody(node, ns, password, tmp_path)
        assert len(after["keys"]) == 3 and not set(after["keys"]) & set(old_keys), "custody holds no new set"
        assert "pending" not in after and "previous" not in after, sorted(after)
        assert read_key_file(str(keys_file), password)["keys"] == after["keys"], "the keys file was not rekeyed"

        restarted = pods[2]
        uid = {p["metadata"]["name"]: p["metadata"]["uid"] for p in running()}[restarted]
        kubectl(node, "-n", ns, "delete", "pod", restarted, "--wait=true", "--timeout=120s", timeout=180)
        wait_for("a new %s" % restarted, lambda: (running() or None) and {
            p["metadata"]["name"]: p["metadata"]["uid"] for p in running()}.get(restarted) not in (None, uid), timeout=180)
        sealed = wait_for("%s answers" % restarted, lambda: _bao_status(node, ns, restarted), timeout=60)
        assert sealed["initialized"] is True and sealed["sealed"] is True, sealed
        with _Forward(node, ns, restarted) as forward:
            answers = [requests.put(forward.url + "/v1/sys/unseal", json={"key": key}, timeout=10) for key in old_keys[:2]]
            assert answers[-1].status_code == 400, (answers[-1].status_code, answers[-1].text[:200])
            assert requests.get(forward.url + "/v1/sys/seal-status", timeout=10).json()["sealed"] is True
            requests.put(forward.url + "/v1/sys/unseal", json={"reset": True}, timeout=10)
        _tasks, stats, _took = unseal()
        statuses = {pod: _bao_status(node, ns, pod) for pod in pods}
        assert all(s["initialized"] and not s["sealed"] for s in statuses.values()), statuses
        assert {s["cluster_id"] for s in statuses.values()} == {cluster_id}
        read = json.loads(_vault_cli(node, ns, restarted, token, "kv", "get", "-format=json", "kv/app").stdout)
        assert read["data"]["data"] == {"password": "still-here"}
        print("rekey through pod/%s in %.1f s (Secret custody): old set refused by the restarted %s, "
              "the role unsealed it with the new set" % (active, rekey_seconds, restarted))
    finally:
        helm(node, "uninstall", release, "-n", ns, "--wait", check=False)
        kubectl(node, "delete", "namespace", ns, "--wait=true", "--timeout=120s", check=False, timeout=180)
        _sh(["bash", "-c", 'source "$0/lib.sh"; source "$0/node.sh"; node_volumes_recycle', LAB_DIR],
            node["run_env"])


def test_up_leaves_a_healthy_node_alone(node):
    run = node["env"]["LAB_HOME"] + "/state/run"
    pids = {f: open(os.path.join(run, f)).read() for f in sorted(os.listdir(run))}
    t0 = time.monotonic()
    res = _sh(["bash", os.path.join(LAB_DIR, "up.sh")], node["run_env"])
    took = time.monotonic() - t0
    assert "already up and healthy" in res.stdout, res.stdout
    assert {f: open(os.path.join(run, f)).read() for f in sorted(os.listdir(run))} == pids
    print("\nup.sh on a running node lab: %.2f s" % took)


def test_down_leaves_nothing_behind(node):
    if SHARED:
        pytest.skip("LAB_SHARED=1: the shared node lab is not taken down")
    env, before = node["env"], node["before"]
    # The pods of the earlier tests are still running.
    assert node_processes(env["LAB_HOME"])
    res = _sh(["bash", os.path.join(LAB_DIR, "down.sh")], node["run_env"])
    node["down"] = True
    after = machine_state(list(before["sysctls"]))
    new_links = after["links"] - before["links"]
    assert not new_links, "interfaces left: %s" % sorted(new_links)
    assert after["chains"] == before["chains"], "iptables chains/rules left"
    assert after["sysctls"] == before["sysctls"]
    assert after["addresses"] == before["addresses"]
    assert after["nft_tables"] == before["nft_tables"], "netfilter tables left"
    assert node_processes(env["LAB_HOME"]) == []
    node_dir = os.path.realpath(os.path.join(env["LAB_HOME"], "state", "node"))
    left = [m for m in after["mounts"] if m.startswith(node_dir + "/") or m == node_dir]
    assert not left, "mounts left: %s" % left
    assert sorted(after["mounts"]) == sorted(before["mounts"])
    assert not os.path.exists("/run/vaultkube-lab-node")
    for f in os.listdir(os.path.join(env["LAB_HOME"], "state", "run")):
        pytest.fail("pidfile left: %s (%s)" % (f, res.stdout))
    node["clean"] = True
