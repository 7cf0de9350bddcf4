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

    def __init__(self, extra_args=(), embedding=False, env=None):
        nnedge = _require(_path("NNEDGE_BIN", CACHE / "target/host/release/nnedge"), "nnedge")
        guest = _require(_path("NNEDGE_GUEST_DIR", CACHE / "guests") / "llama-api-server.wasm", "the guest")
        model = _require(_path("NNEDGE_MODEL", CACHE / "models/SmolLM2-135M-Instruct.Q4_1.gguf"), "the chat model")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        preloads = ["--nn-preload", f"default:GGML:AUTO:{model}"]
        guest_args = ["--socket-addr", f"127.0.0.1:{self.port}", *extra_args]
        if "--ctx-size" not in extra_args and not embedding:
            guest_args += ["--ctx-size", "2048"]
        if embedding:
            embedder = _require(
                _path("NNEDGE_EMBEDDING_MODEL", REPO.parent / "shared/models/all-MiniLM-L6-v2-Q8_0.gguf"),
                "the embedding model",
            )
            preloads += ["--nn-preload", f"embedding:GGML:AUTO:{embedder}"]
            guest_args += ["--model-alias", "default,embedding", "--model-name", "smollm2,minilm",
                           "--ctx-size", "2048,512", "--batch-size", "512,512"]
        env_args = [f"--env={key}={value}" for key, value in (env or {}).items()]
        command = [str(nnedge), "run", *env_args, *preloads, str(guest), *guest_args]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self._wait_ready()

    def _drain_stderr(self):
        for line in self.process.stderr:
            self.stderr.append(line)

    def _wait_ready(self):
        deadline = time.monotonic() + STARTUP_SECONDS
        # The first run AOT-compiles the guest; WasmEdge's compiler logs on stdout before the
        # guest's ready line.
        for line in self.process.stdout:
            if "listening on" in line:
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
