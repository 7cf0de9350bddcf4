"""Fixtures: a real nnedge running the llama-api-server guest on a real model, on 127.0.0.1.

Paths come from the environment (``cargo xtask env`` prints them), with the development cache
as fallback:

- ``NNEDGE_BIN``: the nnedge binary (default ``$NNEDGE_CACHE/target/host/release/nnedge``)
- ``NNEDGE_GUEST_DIR``: built guests (default ``$NNEDGE_CACHE/guests``)
- ``NNEDGE_MODEL``: the chat model (default SmolLM2-135M-Instruct Q4_1 in the cache)
- ``NNEDGE_EMBEDDING_MODEL``: the embedding model (default ../shared/models/all-MiniLM-L6-v2-Q8_0.gguf)

A missing prerequisite skips the tests, or fails them when ``CI`` is set.
"""

import os
import pathlib
import socket
import subprocess
import threading
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
CACHE = pathlib.Path(os.environ.get("NNEDGE_CACHE", pathlib.Path.home() / ".cache" / "nnedge"))
STARTUP_SECONDS = 120
# Flags that `nnedge serve` takes itself; anything else is passed to the guest after `--`.
SERVE_FLAGS = {"--ctx-size", "--parallel", "--api-key", "--prompt-template", "--threads"}


def _path(variable, default):
    return pathlib.Path(os.environ.get(variable, default))


def _require(path, what):
    if path.exists():
        return path
    message = f"{what} not found at {path}; run `cargo xtask build` first"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A running API server; ``url`` is its base URL."""

    def __init__(self, extra_args=(), embedding=False, env=None, wait=True):
        nnedge = _require(_path("NNEDGE_BIN", CACHE / "target/host/release/nnedge"), "nnedge")
        guest = _require(_path("NNEDGE_GUEST_DIR", CACHE / "guests") / "llama-api-server.wasm", "the guest")
        model = _require(_path("NNEDGE_MODEL", CACHE / "models/SmolLM2-135M-Instruct.Q4_1.gguf"), "the chat model")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # `nnedge serve` flags go before `--`, the guest's own flags after it.
        serve_flags, guest_flags = [], []
        extra = list(extra_args)
        while extra:
            flag = extra.pop(0)
            value = extra.pop(0) if extra and not extra[0].startswith("--") else None
            target = serve_flags if flag in SERVE_FLAGS else guest_flags
            target += [flag] if value is None else [flag, value]
        if "--ctx-size" not in serve_flags:
            serve_flags += ["--ctx-size", "2048,512" if embedding else "2048"]
        if embedding:
            embedder = _require(
                _path("NNEDGE_EMBEDDING_MODEL", REPO.parent / "shared/models/all-MiniLM-L6-v2-Q8_0.gguf"),
                "the embedding model",
            )
            serve_flags += ["--embedding-model", str(embedder)]
            guest_flags += ["--batch-size", "512,512"]
        command = [str(nnedge), "serve", "--port", str(self.port), "--model", str(model),
                   "--threads", "2", *serve_flags, "--", *guest_flags]
        child_env = dict(os.environ, NNEDGE_GUEST_DIR=str(guest.parent), **(env or {}))
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env=child_env)
        self.stderr = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        if wait:
            self._wait_ready()

    def _drain_stderr(self):
        for line in self.process.stderr:
            self.stderr.append(line)

    def _wait_ready(self):
        deadline = time.monotonic() + STARTUP_SECONDS
        # `nnedge serve` prints its ready line once /health answers 200.
        for line in self.process.stdout:
            if line.startswith("nnedge serve: ready on"):
                break
        else:
            self.stop()
            pytest.fail(f"server did not start:\n{''.join(self.stderr)}")
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail("server did not accept connections")

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="session")
def server():
    """One chat server with 4 slots, shared by the tests that do not need flags of their own."""
    running = Server(["--parallel", "4"])
    yield running
    running.stop()


@pytest.fixture(scope="session")
def embedding_server():
    running = Server(embedding=True)
    yield running
    running.stop()


@pytest.fixture
def make_server():
    """Starts servers with custom flags; stops them after the test."""
    started = []

    def start(*args, **kwargs):
        running = Server(*args, **kwargs)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
