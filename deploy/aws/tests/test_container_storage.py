"""scripts/container-storage: the Image stage's storage for buildah, podman and skopeo
(image.yml's install phase). `make image-codebuild` runs it for real in an
overlayfs-rooted privileged container; these check its choices and the file it writes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "container-storage"


def run(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, Path]:
    conf = tmp_path / "etc" / "storage.conf"
    done = subprocess.run(  # noqa: S603 - the repository's own script
        [str(SCRIPT)],
        env={
            **os.environ,
            "CONTAINER_STORAGE_GRAPHROOT": str(tmp_path / "containers" / "storage"),
            "CONTAINER_STORAGE_CONF_FILE": str(conf),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    return done, conf


def test_where_the_kernels_overlay_works_it_changes_nothing(tmp_path):
    if os.statvfs(tmp_path) and Path("/proc/self/mounts").read_text().startswith("overlay / "):
        pytest.skip("running inside an overlayfs-rooted container")
    done, conf = run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "the kernel's overlay, the default" in done.stderr
    assert not conf.exists()


def test_fuse_overlayfs_is_written_as_overlays_mount_program(tmp_path):
    done, conf = run(tmp_path, CONTAINER_STORAGE="fuse-overlayfs")
    assert done.returncode == 0, done.stderr
    text = conf.read_text()
    assert 'driver = "overlay"' in text
    assert "[storage.options.overlay]" in text
    assert 'mount_program = "' in text and "fuse-overlayfs" in text
    assert f'graphroot = "{tmp_path}/containers/storage"' in text


def test_vfs_has_no_mount_program_and_a_bad_choice_is_refused(tmp_path):
    done, conf = run(tmp_path, CONTAINER_STORAGE="vfs")
    assert done.returncode == 0, done.stderr
    assert 'driver = "vfs"' in conf.read_text() and "mount_program =" not in conf.read_text()
    done, _ = run(tmp_path, CONTAINER_STORAGE="btrfs")
    assert done.returncode == 2 and "use overlay, fuse-overlayfs or vfs" in done.stderr
