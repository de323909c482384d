"""llama.cpp's own OpenAI-compatible server, ``llama-server``, serving the SmolLM2 GGUF on loopback.

The binary comes from ``tools/build_llama_server.sh`` (built from the llama.cpp tree of the
installed llama-cpp-python's sdist, cached per version and CPU; the script builds it the first time).
``with LlamaServer(parallel=4) as server:`` starts it on a free port and waits for ``/health``.
"""
from __future__ import annotations

import functools
import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from agents.llm.llama_loading import default_model_path, plain_weight_buffers

ROOT = Path(__file__).resolve().parents[1]
MODEL = "smollm2-135m"


@functools.lru_cache(maxsize=1)
def binary() -> str:
    """The llama-server binary (built and cached by tools/build_llama_server.sh if not yet there)."""
    done = subprocess.run(["bash", str(ROOT / "tools" / "build_llama_server.sh")], capture_output=True, text=True,
                          timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"tools/build_llama_server.sh failed: {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def version() -> str:
    """The server's own version line (e.g. 'version: 0.5.0-dev (build 1, commit 0c1e570)')."""
    out = subprocess.run([binary(), "--version"], capture_output=True, text=True, timeout=60)
    return next((line for line in (out.stdout + out.stderr).splitlines() if line.startswith("version")), "unknown")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """A llama-server process with ``parallel`` slots (continuous batching) on 127.0.0.1."""

    def __init__(self, parallel: int = 4, context: int = 8192, threads: int = 2):
        self.parallel, self.context, self.threads = parallel, context, threads
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.openai_url = f"{self.url}/v1"

    def __enter__(self) -> "LlamaServer":
        args = [binary(), "-m", str(default_model_path()), "--host", "127.0.0.1", "--port", str(self.port),
                "--parallel", str(self.parallel), "-c", str(self.context), "-t", str(self.threads),
                "--alias", MODEL, "--no-webui"]
        if plain_weight_buffers():  # the same AMX workaround as the embedded backend
            args.append("--no-repack")
        self.log = open(Path("/tmp") / f"llama-server-{self.port}.log", "w")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama-server exited with {self.process.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as reply:
                    if json.loads(reply.read()).get("status") == "ok":
                        return self
            except OSError:
                pass
            time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"llama-server did not become healthy in 120 s; see {self.log.name}")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
