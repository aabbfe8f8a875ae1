"""ca_cert_export: the cluster CA written on the controller, equal to the lab CA."""
import os
import stat

from roles_testlib import LAB_HOME, SITE_DIR

testinfra_hosts = ["localhost"]


def test_ca_written_public_and_equal_to_cluster_ca():
    path = os.path.join(SITE_DIR, "kubernetes-ca.crt")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    with open(path, encoding="ascii") as fh:
        exported = fh.read().strip()
    with open(os.path.join(LAB_HOME, "state", "pki", "ca.crt"), encoding="ascii") as fh:
        assert exported == fh.read().strip()
