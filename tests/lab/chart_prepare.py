"""Prepare the External Secrets Operator Helm chart copied from its Go module.

In ESO's source tree the chart's ``templates/crds/`` folder is generated at
release time (``hack/helm.generate.sh``, which needs yq) from
``deploy/crds/bundle.yaml``, and the optional ``bitwarden-sdk-server``
sub-chart (disabled by default) is pulled from an OCI registry. This script does
the same generation offline with PyYAML only:

* one template per CRD, guarded like upstream:
  ``installCRDs`` plus ``crds.create<Kind>`` for Cluster* and PushSecret kinds,
  with the ``crds.annotations`` hook in metadata.annotations;
* the optional sub-chart dependency is removed from Chart.yaml / Chart.lock;
* Chart version/appVersion are set to the ESO release that was built.

Usage: chart_prepare.py BUNDLE_YAML CHART_DIR ESO_VERSION
"""

import os
import re
import sys

import yaml

ANNOTATIONS_HOOK = (
    "    {{- with .Values.crds.annotations }}\n"
    "    {{- toYaml . | nindent 4}}\n"
    "    {{- end }}\n"
)


def split_docs(text):
    docs = re.split(r"(?m)^---[ \t]*$\n?", text)
    return [d for d in docs if d.strip()]


def guard_for(kind):
    flag = "create" + kind
    if "Cluster" in kind or "PushSecret" in kind:
        return "{{- if and (.Values.installCRDs) (.Values.crds.%s) }}" % flag
    return "{{- if .Values.installCRDs }}"


def render_crd(doc_text):
    doc = yaml.safe_load(doc_text)
    if not doc or doc.get("kind") != "CustomResourceDefinition":
        return None, None
    kind = doc["spec"]["names"]["kind"]
    singular = doc["spec"]["names"]["singular"]
    body = doc_text if doc_text.endswith("\n") else doc_text + "\n"
    if "{{" in body:
        raise SystemExit("CRD %s contains template braces; refusing to template it" % kind)
    # insert the annotations hook right after the first "annotations:" line
    lines = body.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.rstrip() == "  annotations:":
            lines.insert(i + 1, ANNOTATIONS_HOOK)
            break
    body = "".join(lines)
    return singular, guard_for(kind) + "\n" + body + "{{- end }}\n"


def main():
    bundle, chart, version = sys.argv[1:4]
    crd_dir = os.path.join(chart, "templates", "crds")
    os.makedirs(crd_dir, exist_ok=True)
    count = 0
    with open(bundle, encoding="utf-8") as fh:
        for doc_text in split_docs(fh.read()):
            singular, rendered = render_crd(doc_text)
            if singular is None:
                continue
            with open(os.path.join(crd_dir, singular + ".yaml"), "w", encoding="utf-8") as out:
                out.write(rendered)
            count += 1

    chart_yaml = os.path.join(chart, "Chart.yaml")
    with open(chart_yaml, encoding="utf-8") as fh:
        meta = yaml.safe_load(fh)
    meta.pop("dependencies", None)
    meta["version"] = version.lstrip("v")
    meta["appVersion"] = version
    with open(chart_yaml, "w", encoding="utf-8") as fh:
        yaml.safe_dump(meta, fh, sort_keys=False)
    lock = os.path.join(chart, "Chart.lock")
    if os.path.exists(lock):
        os.remove(lock)
    print("chart_prepare: %d CRD templates written to %s" % (count, crd_dir))


if __name__ == "__main__":
    main()
