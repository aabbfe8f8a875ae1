"""Fault injection: playbooks/site.yml SIGKILLed at task boundaries on a private lab, then
run again (see fault_site.py for boundaries, classes and resets).

For every kill point, after a reset that removes what the flow produced (Vault's data or
installation, keys and password files, the flow's Kubernetes objects; fault_site.py says why)
and a rotation of the seeded value (a fresh random value in the inventory's demo-db-password
lookup file): the killed run really stopped at its boundary; if Vault was initialised at that
moment its keys were already in the keys file; the re-run succeeds and keeps the keys file's
shares (never lost or replaced once Vault returned them; the file loses only the initial root
token), an admin token made from them works, no root token is left in the keys file, Vault is
unsealed, Vault's KV holds the rotated value and so does the Secret demo/demo-db read back from
the API server (not the value it held before the reset): the re-run re-synced from the new
Vault; a third run is changed=0. Every point is tried even when one fails; the counts are
printed.

Which points: VAULTKUBE_FAULT_ALL=1 tries one point of every class of boundaries (the
full sweep). Otherwise the classes of every boundary of the roles in
VAULTKUBE_FAULT_FULL_ROLES (default vault_unseal: key custody, where a kill can lose keys),
plus the classes of VAULTKUBE_FAULT_SAMPLE (4) boundaries drawn from the other roles with
seed VAULTKUBE_FAULT_SEED (20261202; all three printed). VAULTKUBE_FAULT_LIMIT=N keeps the first N
points of the plan and VAULTKUBE_FAULT_ONLY=role[,role] the points in those roles (partial
runs; the test then says so).
"""

import os
import time

import pytest

from fault_site import FaultSite, plan

pytestmark = pytest.mark.needs_root("the lab inventory creates a system user and runs OpenBao as it")

ROLES_IN_FULL = tuple(r for r in os.environ.get("VAULTKUBE_FAULT_FULL_ROLES", "vault_unseal").split(",") if r)
SEED = int(os.environ.get("VAULTKUBE_FAULT_SEED", "20261202"))
SAMPLE = int(os.environ.get("VAULTKUBE_FAULT_SAMPLE", "4"))
EVERY = os.environ.get("VAULTKUBE_FAULT_ALL") == "1"
LIMIT = int(os.environ.get("VAULTKUBE_FAULT_LIMIT", "0"))
ONLY = [r for r in os.environ.get("VAULTKUBE_FAULT_ONLY", "").split(",") if r]


@pytest.fixture(scope="module")
def site(request):
    site = FaultSite(service_user="vkube-fault")
    failed_before = request.session.testsfailed
    try:
        site.start()
        yield site
    finally:
        site.stop(keep_logs=request.session.testsfailed > failed_before)
        if site.kept_logs:
            print("\nlogs kept in %s" % site.kept_logs)


def say(text):
    print(text, flush=True)


def identity(boundary):
    return boundary.role, boundary.task, boundary.handler


def test_site_killed_at_task_boundaries_converges(site):
    baseline, fresh, _killed = site.run("baseline")
    assert baseline.ok, baseline.failure()
    # A point outside vault_install starts from an installed Vault (its reset keeps it), where the
    # install changes nothing and notifies no handler, so its run has fewer boundaries than a run
    # from nothing: those points are numbered on a second baseline run from that state, and
    # vault_install's on the first. A killed run must stop at the point's own task (checked below).
    site.reset("vault_unseal")
    installed_run, installed, _killed = site.run("baseline-installed")
    assert installed_run.ok, installed_run.failure()
    roles = {}
    for b in [b for b in fresh if b.role == "vault_install"] + [b for b in installed if b.role != "vault_install"]:
        roles[b.role or "(play)"] = roles.get(b.role or "(play)", 0) + 1
    fresh_points, fresh_sampled = plan(fresh, ROLES_IN_FULL, SAMPLE, SEED, every=EVERY)
    installed_points, installed_sampled = plan(installed, ROLES_IN_FULL, SAMPLE, SEED, every=EVERY)
    points = ([g for g in fresh_points if g[-1].role == "vault_install"]
              + [g for g in installed_points if g[-1].role != "vault_install"])
    sampled = sorted(set(n for n in fresh_sampled if fresh[n - 1].role == "vault_install")
                     | set(n for n in installed_sampled if installed[n - 1].role != "vault_install"))
    say("\nsite.yml: %d task boundaries from nothing, %d from an installed Vault (%s); baseline runs %.0f s and %.0f s"
        % (len(fresh), len(installed), ", ".join("%s %d" % kv for kv in sorted(roles.items())),
           baseline.seconds, installed_run.seconds))
    say("kill points: %s; seed %d; %d points cover %d boundaries"
        % ("one per class of every boundary" if EVERY else
           "every boundary of %s and the sampled boundaries %s" % (" and ".join(ROLES_IN_FULL), sampled),
           SEED, len(points), sum(len(g) for g in points)))
    for group in points:
        say("  kill at %s, covers %s" % (group[-1].label(), ", ".join("#%d" % b.n for b in group)))
    if ONLY:
        points = [g for g in points if any((b.role or "(play)") in ONLY for b in g)]
        say("VAULTKUBE_FAULT_ONLY=%s: only the %d points in those roles are tried" % (",".join(ONLY), len(points)))
    if LIMIT:
        points = points[:LIMIT]
        say("VAULTKUBE_FAULT_LIMIT=%d: only the first %d points are tried" % (LIMIT, len(points)))
    failures = []
    converged = 0
    seconds = []
    for group in points:
        point = group[-1]
        started = time.monotonic()
        old_value = site.seed_in_secret()
        reset_seconds, new_value = site.reset(point.role)
        killed, logged, processes = site.run("kill-%d" % point.n, kill_at=point.n)
        problems = []
        # A point in the quiet tail of site.yml can lie past the end of a run that has fewer
        # boundaries than the baseline (a handler the baseline ran, say): a run that ended inside
        # the point's own class left the class's state, which is what the point tests.
        ended_in_class = (killed.ok and processes < 1 and logged
                          and logged[-1].n in set(b.n for b in group))
        if ended_in_class:
            say("  #%d: the run ended at #%d, inside the point's class (quiet tasks only)" % (point.n, logged[-1].n))
        elif not logged or logged[-1].n != point.n or processes < 1:
            problems.append("not killed at the boundary (last logged %s)" % (logged[-1].label() if logged else None))
        elif identity(logged[-1]) != identity(point):
            problems.append("killed at %s, not at the point's own task" % logged[-1].label())
        initialised = site.vault_initialized()
        digest = site.keys_digest()
        if initialised and digest is None:
            problems.append("Vault initialised but no keys file at the kill")
        rerun = site.run("rerun-%d" % point.n)[0]
        if not rerun.ok:
            problems.append("re-run failed: %s" % rerun.failure()[-1500:])
        else:
            if digest is not None and site.keys_digest() != digest:
                problems.append("the keys file changed after the kill")
            if not site.keys_work():
                problems.append("no admin token from the keys file's shares, or Vault is sealed")
            if site.root_token_in_keys_file():
                problems.append("the keys file still holds the initial root token after the re-run")
            problems.extend(site.resync_problems(new_value, old_value))
            third = site.run("third-%d" % point.n)[0]
            if not third.ok or third.changed:
                problems.append("third run: ok=%s changed=%d" % (third.ok, third.changed))
        took = time.monotonic() - started
        seconds.append(took)
        members = ", ".join("#%d" % b.n for b in group)
        if problems:
            failures.append((point, problems))
            say("FAILED %s [class %s] in %.0f s: %s" % (point.label(), members, took, "; ".join(problems)))
        else:
            converged += 1
            figures = (point.label(), members, reset_seconds, site.kube_reset_seconds, killed.seconds, processes,
                       rerun.seconds, third.seconds, took)
            say("converged %s [class %s]: reset %.1f s (Kubernetes objects %.1f s; seed rotated), "
                "killed run %.0f s (%d processes killed), "
                "re-run %.0f s (Secret re-synced), third %.0f s, %.0f s in all" % figures)
    say("kill points: %d tried, %d converged; %.0f s per point on average"
        % (len(points), converged, sum(seconds) / max(1, len(seconds))))
    assert not failures, "; ".join("%s: %s" % (p.label(), " / ".join(x)) for p, x in failures)
