"""Starting Ray: a local instance bound to 127.0.0.1 only, or joining an existing cluster."""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

MARKER = "arena-driver"  # in a run's Ray temp dir: the process that started it, and when
TEMP_ROOT = "/tmp"  # short: Ray's socket paths have a length limit


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
    reap_orphans()
    temp_dir = tempfile.mkdtemp(prefix="ar", dir=TEMP_ROOT)
    Path(temp_dir, MARKER).write_text(_identity(os.getpid()))
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


def _identity(pid: int) -> str:
    import psutil

    return f"{pid} {psutil.Process(pid).create_time()}"


def _alive(identity: str) -> bool:
    import psutil

    pid = int(identity.split()[0])
    try:
        return _identity(pid) == identity
    except (psutil.Error, ValueError):
        return False


def _uses(process, temp_dir: str) -> bool:
    """Whether a process belongs to the Ray instance in ``temp_dir`` (its command line or open files)."""
    import psutil

    try:
        if temp_dir in " ".join(process.cmdline()):
            return True
        return any(f.path.startswith(temp_dir) for f in process.open_files())
    except psutil.Error:
        return False


def reap_orphans(root: str = TEMP_ROOT) -> list[str]:
    """Stop what a killed arena run's local Ray left behind (its processes, e.g. the dashboard and
    runtime-env agents, which outlive a SIGKILLed driver) and remove its temp dir; returns the dirs."""
    import psutil

    reaped = []
    for marker in Path(root).glob(f"ar*/{MARKER}"):
        try:
            if _alive(marker.read_text()):
                continue
        except OSError:
            continue
        temp_dir = str(marker.parent)
        for process in psutil.process_iter():
            if process.pid != os.getpid() and _uses(process, temp_dir):
                try:
                    process.kill()
                except psutil.Error:
                    pass
        shutil.rmtree(temp_dir, ignore_errors=True)
        reaped.append(temp_dir)
    return reaped
