"""Write a container image as a docker-archive tar (manifest.json, config
JSON, one uncompressed layer) that `ctr images import` loads: the lab's
images are built from local files, without a registry or an image builder.

Command line (used by tests/lab/build.sh):

    python image_tar.py OUT.tar --tag NAME:TAG [--entrypoint JSON] [--cmd JSON]
        [--user UID[:GID]] [--env K=V ...] [--workdir DIR]
        [--file SRC:DEST[:MODE[:UID:GID]] ...] [--dir DEST[:MODE[:UID:GID]] ...]
        [--symlink DEST:TARGET ...] [--text DEST:MODE:CONTENT ...]
        [--busybox SRC]        # /bin/busybox plus a link for every applet

The layer is reproducible: fixed timestamps, sorted entries, parents first.
"""

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile

MTIME = 0


class Layer:
    """The entries of one image layer, keyed by their path in the image."""

    def __init__(self):
        self.entries = {}

    def _parents(self, path):
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            self.entries.setdefault(d, ("dir", None, 0o755, 0, 0))

    def add(self, path, kind, data, mode, uid=0, gid=0):
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = (kind, data, mode, uid, gid)

    def write(self, fileobj):
        with tarfile.open(fileobj=fileobj, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(self.entries):
                kind, data, mode, uid, gid = self.entries[path]
                info = tarfile.TarInfo(path)
                info.mtime, info.mode, info.uid, info.gid = MTIME, mode, uid, gid
                if kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif kind == "symlink":
                    info.type, info.linkname = tarfile.SYMTYPE, data
                    tar.addfile(info)
                elif kind == "file":
                    info.size = os.path.getsize(data)
                    with open(data, "rb") as src:
                        tar.addfile(info, src)
                else:  # text
                    raw = data.encode()
                    info.size = len(raw)
                    tar.addfile(info, io.BytesIO(raw))


def _owner(parts, i):
    mode = int(parts[i], 8) if len(parts) > i and parts[i] else None
    uid = int(parts[i + 1]) if len(parts) > i + 1 else 0
    gid = int(parts[i + 2]) if len(parts) > i + 2 else 0
    return mode, uid, gid


def _hash_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_image(out, tag, layer, config):
    """Write LAYER with image CONFIG (the OCI "config" object) as a
    docker-archive tar OUT tagged TAG."""
    out_dir = os.path.dirname(os.path.abspath(out))
    with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".layer-", delete=False) as tmp:
        layer_path = tmp.name
        layer.write(tmp)
    try:
        layer_id = _hash_file(layer_path)
        image_config = {
            "architecture": "amd64",
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_id]},
            "history": [{"created": "1970-01-01T00:00:00Z",
                         "created_by": "tests/lab/images/image_tar.py"}],
        }
        config_raw = json.dumps(image_config, sort_keys=True).encode()
        config_name = hashlib.sha256(config_raw).hexdigest() + ".json"
        manifest = [{"Config": config_name, "RepoTags": [tag],
                     "Layers": [layer_id + "/layer.tar"]}]
        tmp_out = out + ".tmp"
        with tarfile.open(tmp_out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            def add_bytes(name, raw):
                info = tarfile.TarInfo(name)
                info.mtime, info.mode, info.size = MTIME, 0o644, len(raw)
                tar.addfile(info, io.BytesIO(raw))

            info = tarfile.TarInfo(layer_id)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
            tar.addfile(info)
            info = tarfile.TarInfo(layer_id + "/layer.tar")
            info.mtime, info.mode, info.size = MTIME, 0o644, os.path.getsize(layer_path)
            with open(layer_path, "rb") as src:
                tar.addfile(info, src)
            add_bytes(config_name, config_raw)
            add_bytes("manifest.json", json.dumps(manifest).encode())
        os.replace(tmp_out, out)
    finally:
        os.unlink(layer_path)
    return "sha256:" + config_name[:-5]


def busybox_applets(busybox):
    out = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True).stdout
    return sorted(a for a in out.split() if a and "/" not in a)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--tag", required=True)
    p.add_argument("--entrypoint", type=json.loads)
    p.add_argument("--cmd", type=json.loads)
    p.add_argument("--user")
    p.add_argument("--workdir")
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--file", action="append", default=[])
    p.add_argument("--dir", action="append", default=[])
    p.add_argument("--symlink", action="append", default=[])
    p.add_argument("--text", action="append", default=[])
    p.add_argument("--busybox")
    a = p.parse_args(argv)

    layer = Layer()
    if a.busybox:
        layer.add("bin/busybox", "file", a.busybox, 0o755)
        for applet in busybox_applets(a.busybox):
            if applet != "busybox":
                layer.add("bin/" + applet, "symlink", "busybox", 0o777)
    for spec in a.file:
        parts = spec.split(":")
        mode, uid, gid = _owner(parts, 2)
        if mode is None:
            mode = os.stat(parts[0]).st_mode & 0o7777
        layer.add(parts[1], "file", parts[0], mode, uid, gid)
    for spec in a.dir:
        parts = spec.split(":")
        mode, uid, gid = _owner(parts, 1)
        layer.add(parts[0], "dir", None, 0o755 if mode is None else mode, uid, gid)
    for spec in a.symlink:
        dest, target = spec.split(":", 1)
        layer.add(dest, "symlink", target, 0o777)
    for spec in a.text:
        dest, mode, content = spec.split(":", 2)
        layer.add(dest, "text", content, int(mode, 8))

    config = {"Env": a.env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
    for key, value in (("Entrypoint", a.entrypoint), ("Cmd", a.cmd), ("User", a.user),
                       ("WorkingDir", a.workdir)):
        if value is not None:
            config[key] = value
    image_id = write_image(a.out, a.tag, layer, config)
    print("%s %s %s" % (a.out, a.tag, image_id))
    return 0


if __name__ == "__main__":
    sys.exit(main())
