"""Starting Ray: a local instance bound to 127.0.0.1 only, or joining an existing cluster."""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass


@dataclass(frozen=True)
class RaySession:
    """Whether this process connected Ray (and so must shut it down), and the temp dir it made."""

    owned: bool
    temp_dir: str | None = None


def loopback_only() -> None:
    """Make Ray started from this process (and the processes it starts) use 127.0.0.1 for every
    node, never another interface of the machine (also for a several-node cluster on one machine)."""
    # Ray reads the variable once, when it is first imported (its processes inherit it); the constant
    # covers a Ray imported before this was called
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False


def start_ray(num_cpus: int, resources: dict[str, float] | None = None, address: str | None = None) -> RaySession:
    """Start (or join) Ray; an instance the caller already started is used as it is and left running."""
    if not address:
        loopback_only()
    import ray

    if ray.is_initialized():
        return RaySession(owned=False)
    if address:
        ray.init(address=address, log_to_driver=False)
        return RaySession(owned=True)
    temp_dir = tempfile.mkdtemp(prefix="ar", dir="/tmp")  # short: Ray's socket paths have a length limit
    ray.init(num_cpus=num_cpus, resources=resources or {}, include_dashboard=False, _temp_dir=temp_dir,
             _node_ip_address="127.0.0.1", log_to_driver=False, configure_logging=False)
    return RaySession(owned=True, temp_dir=temp_dir)


def stop_ray(session: RaySession) -> None:
    """Shut Ray down if this process started or joined it, and remove its temp dir."""
    import ray

    if session.owned and ray.is_initialized():
        ray.shutdown()
    if session.temp_dir:
        shutil.rmtree(session.temp_dir, ignore_errors=True)


def node_addresses() -> list[str]:
    """The addresses every Ray node advertises (for checking the loopback binding)."""
    import ray

    return [node["NodeManagerAddress"] for node in ray.nodes() if node.get("Alive")]
