"""Build the sandbox image locally, without Docker Hub.

Two layers: a Debian root filesystem made by debootstrap and imported with
``docker import``, then a layer with the Python packages an agent may use,
installed from wheels that pip downloads on the host. The tag carries a hash of
every input, so an unchanged image is never rebuilt.
"""

import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import docker
import docker.errors

from evolarium.errors import DockerUnavailableError, EvolariumError
from evolarium.sandbox.client import docker_client

log = logging.getLogger(__name__)

IMAGE_REPOSITORY = "evolarium-sandbox"
BASE_REPOSITORY = "evolarium-base"
IMAGE_ENV = "EVOLARIUM_SANDBOX_IMAGE"
# Bump when the build steps change in a way the other inputs do not show.
BUILD_FORMAT = 1

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR_ENV = "EVOLARIUM_DEBIAN_MIRROR"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEBIAN_PACKAGES = ("python3", "python3-pytest", "python3-pip", "git", "ca-certificates")
AGENT_PACKAGES = ("openai", "httpx")

SANDBOX_UID = 1000
TRIMMED_PATHS = ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man")

Progress = Callable[[str], None]

DOCKERFILE = """\
FROM {base}
COPY wheels /tmp/wheels
RUN python3 -m pip install --no-index --find-links /tmp/wheels --break-system-packages \\
        --no-cache-dir --root-user-action=ignore {packages} \\
    && rm -rf /tmp/wheels
ENV HOME=/tmp LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC PYTHONHASHSEED=0 \\
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER {uid}:{uid}
WORKDIR /workspace
"""


def _agent_requirements() -> list[str]:
    """Pin the agent packages to the versions installed on the host."""
    pins = []
    for name in AGENT_PACKAGES:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def _mirror() -> str:
    return os.environ.get(DEBIAN_MIRROR_ENV, DEFAULT_MIRROR)


def base_tag() -> str:
    inputs = {
        "format": BUILD_FORMAT,
        "suite": DEBIAN_SUITE,
        "packages": DEBIAN_PACKAGES,
        "uid": SANDBOX_UID,
        "arch": platform.machine(),
    }
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    return f"{BASE_REPOSITORY}:{digest[:12]}"


def image_tag() -> str:
    """Return the tag of the sandbox image that this evolarium version uses."""
    inputs = {
        "base": base_tag(),
        "requirements": _agent_requirements(),
        "dockerfile": DOCKERFILE,
        "python": "3.11",
    }
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    return f"{IMAGE_REPOSITORY}:{digest[:12]}"


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def require_image(client: docker.DockerClient) -> str:
    """Return the sandbox image tag, or raise if it has not been built.

    ``EVOLARIUM_SANDBOX_IMAGE`` names another image to use instead.
    """
    tag = os.environ.get(IMAGE_ENV) or image_tag()
    if image_exists(client, tag):
        return tag
    if os.environ.get(IMAGE_ENV):
        raise DockerUnavailableError(
            f"{IMAGE_ENV}={tag} names an image that does not exist; build or pull it, "
            f"or unset {IMAGE_ENV} to use evolarium's own image"
        )
    older = _other_tags(client)
    if older:
        verb = "is" if len(older) == 1 else "are"
        raise DockerUnavailableError(
            f"sandbox image {tag} is missing and {', '.join(older)} {verb} outdated (built "
            f"from other inputs); rebuild it with: evolarium sandbox build"
        )
    raise DockerUnavailableError(
        f"sandbox image {tag} is missing; build it with: evolarium sandbox build"
    )


def _other_tags(client: docker.DockerClient) -> list[str]:
    """Return the tags of sandbox images built by other versions of evolarium."""
    try:
        images = client.images.list(name=IMAGE_REPOSITORY)
    except docker.errors.APIError:
        return []
    return sorted(tag for image in images for tag in image.tags)


def build_image(progress: Progress | None = None, *, force: bool = False) -> str:
    """Build the sandbox image unless an identical one exists; return its tag."""
    report = progress or (lambda message: log.info(message))
    client = docker_client()
    tag = image_tag()
    if image_exists(client, tag) and not force:
        report(f"image {tag} is up to date")
        return tag

    base = base_tag()
    if force or not image_exists(client, base):
        _build_base(client, base, report)
    else:
        report(f"base image {base} is up to date")

    _build_packages_layer(client, base, tag, report)
    report(f"built {tag}")
    return tag


def _build_base(client: docker.DockerClient, tag: str, report: Progress) -> None:
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise EvolariumError(
            "debootstrap is not installed; install it with: apt-get install debootstrap"
        )
    if os.geteuid() != 0:
        raise EvolariumError("building the base image runs debootstrap, which needs root")

    with tempfile.TemporaryDirectory(prefix="evolarium-rootfs-") as workdir:
        rootfs = Path(workdir) / "rootfs"
        report(f"debootstrap {DEBIAN_SUITE} from {_mirror()} (about 2-5 minutes)")
        command = [
            debootstrap,
            "--variant=minbase",
            f"--include={','.join(DEBIAN_PACKAGES)}",
            DEBIAN_SUITE,
            str(rootfs),
            _mirror(),
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            tail = (result.stdout + result.stderr)[-2000:]
            raise EvolariumError(
                f"debootstrap failed with exit code {result.returncode}; check that the "
                f"mirror {_mirror()} is reachable or set {DEBIAN_MIRROR_ENV}:\n{tail}"
            )

        _trim_rootfs(rootfs)
        _add_sandbox_user(rootfs)
        archive = Path(workdir) / "rootfs.tar"
        report("packing the root filesystem")
        with tarfile.open(archive, "w") as tar:
            tar.add(rootfs, arcname=".")
        report(f"importing {tag}")
        repository, _, version = tag.partition(":")
        client.api.import_image_from_file(str(archive), repository=repository, tag=version)


def _trim_rootfs(rootfs: Path) -> None:
    for relative in TRIMMED_PATHS:
        path = rootfs / relative
        if path.is_dir():
            shutil.rmtree(path)
            path.mkdir()


def _add_sandbox_user(rootfs: Path) -> None:
    with open(rootfs / "etc/passwd", "a") as passwd:
        passwd.write(f"agent:x:{SANDBOX_UID}:{SANDBOX_UID}:sandbox user:/tmp:/usr/sbin/nologin\n")
    with open(rootfs / "etc/group", "a") as group:
        group.write(f"agent:x:{SANDBOX_UID}:\n")
    (rootfs / "workspace").mkdir(exist_ok=True)
    for directory in ("agent", "task", "input", "hidden", "results", "run/evolarium"):
        (rootfs / directory).mkdir(parents=True, exist_ok=True)


def _download_wheels(dest: Path, report: Progress) -> None:
    requirements = _agent_requirements()
    report(f"downloading wheels: {' '.join(requirements)}")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--python-version",
        "3.11",
        "--platform",
        f"manylinux2014_{platform.machine()}",
        "--dest",
        str(dest),
        *requirements,
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise EvolariumError(
            f"pip download of {' '.join(requirements)} failed; check that PyPI is "
            f"reachable:\n{result.stderr[-2000:]}"
        )


def _build_packages_layer(
    client: docker.DockerClient, base: str, tag: str, report: Progress
) -> None:
    with tempfile.TemporaryDirectory(prefix="evolarium-image-") as context:
        context_dir = Path(context)
        _download_wheels(context_dir / "wheels", report)
        dockerfile = DOCKERFILE.format(
            base=base, packages=" ".join(AGENT_PACKAGES), uid=SANDBOX_UID
        )
        (context_dir / "Dockerfile").write_text(dockerfile)
        report(f"building {tag}")
        try:
            client.images.build(
                path=str(context_dir), tag=tag, rm=True, pull=False, network_mode="none"
            )
        except docker.errors.BuildError as error:
            lines = [str(chunk.get("stream", chunk)) for chunk in error.build_log]
            raise EvolariumError(
                f"image build failed: {error}\n{''.join(lines)[-2000:]}"
            ) from error
