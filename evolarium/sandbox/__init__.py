"""Docker sandboxes: image build, hardened containers, and the reaper."""

from evolarium.sandbox.client import docker_client
from evolarium.sandbox.container import ExecResult, Mount, Sandbox, SandboxError, open_sandbox
from evolarium.sandbox.image import build_image, image_tag, require_image
from evolarium.sandbox.profile import Limits

__all__ = [
    "ExecResult",
    "Limits",
    "Mount",
    "Sandbox",
    "SandboxError",
    "build_image",
    "docker_client",
    "image_tag",
    "open_sandbox",
    "require_image",
]
