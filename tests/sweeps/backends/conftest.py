"""Ray fixtures: one loopback Ray runtime for the fast tests, and real clusters of
`ray start` nodes on loopback for the cluster tests. Every process a fixture starts is in
its own process group, and only those groups are stopped (never `ray stop`)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


# `ray start` that keeps 127.0.0.1 as the node IP and the head's address (Ray would rewrite
# them to the machine's outward IP), so every node listens and talks on loopback only.
RAY_START = ("import sys; from sweeps.backends.ray import loopback_only; "
             "from ray.scripts.scripts import main; sys.argv[0] = 'ray'; "
             "patch = loopback_only(); patch.__enter__(); main()")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_runtime() -> Iterator[None]:
    """A local Ray runtime in this process (2 CPUs, 1 logical GPU), loopback only; the
    Ray backend uses it as it is."""
    ray = pytest.importorskip("ray")
    from sweeps.backends.ray import loopback_only
    auth = os.environ.get("RAY_AUTH_MODE")
    with loopback_only():
        ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False,
                 num_cpus=2, num_gpus=1, logging_level="WARNING", log_to_driver=False)
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
    yield
    ray.shutdown()
    if auth is None:
        os.environ.pop("RAY_AUTH_MODE", None)


@dataclass
class Cluster:
    """Ray nodes started with `ray start --block`, each in its own process group."""

    root: str
    env: dict[str, str]
    address: str = ""
    nodes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start_head(self, *, num_cpus: int = 1) -> None:
        port = _free_port()
        self.address = f"127.0.0.1:{port}"
        self._start("head", ["--head", f"--port={port}", f"--num-cpus={num_cpus}",
                             "--include-dashboard=false"])
        self.wait_nodes(1)

    def add_node(self, name: str, *, num_cpus: int = 1, resources: str = "{}") -> None:
        """A worker node; its trials see $SWEEPS_TEST_NODE = name."""
        self._start(name, [f"--address={self.address}", f"--num-cpus={num_cpus}",
                           f"--resources={resources}"], {"SWEEPS_TEST_NODE": name})
        self.wait_nodes(len(self.nodes))

    def _start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        with open(os.path.join(self.root, f"{name}.log"), "w") as log:
            self.nodes[name] = subprocess.Popen(
                [sys.executable, "-c", RAY_START, "start", "--block", "--disable-usage-stats",
                 "--node-ip-address=127.0.0.1", f"--temp-dir={self.root}/t", *args],
                env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def alive_nodes(self) -> list[dict]:
        code = ("import ray, json; from sweeps.backends.ray import loopback_only\n"
                f"with loopback_only(): ray.init(address={self.address!r}, "
                "logging_level='ERROR')\n"
                "print(json.dumps([n for n in ray.nodes() if n['Alive']]))")
        out = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True,
                             text=True, timeout=120)
        return json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else []

    def wait_nodes(self, count: int, timeout: float = 90) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.nodes.items():
                if process.poll() is not None:
                    log = Path(self.root, f"{name}.log").read_text()[-3000:]
                    raise RuntimeError(f"ray node {name} exited:\n{log}")
            nodes = self.alive_nodes()
            if len(nodes) >= count:
                return nodes
            time.sleep(1)
        raise TimeoutError(f"the Ray cluster did not reach {count} nodes")

    def stop_node(self, name: str) -> None:
        """Kill the node's process group (the node crashes: it leaves the cluster)."""
        process = self.nodes.pop(name)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)

    def stop(self) -> None:
        for name in [n for n in self.nodes if n != "head"] + \
                [n for n in self.nodes if n == "head"]:
            self.stop_node(name)


@pytest.fixture
def ray_cluster() -> Iterator[Cluster]:
    """An empty cluster (start the head and nodes in the test), stopped at the end even on
    failure. Token authentication on, with a token of its own."""
    pytest.importorskip("ray")
    root = tempfile.mkdtemp(prefix="swr", dir="/tmp")  # short: Ray's socket paths have limits
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    cluster = Cluster(root, env)
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
