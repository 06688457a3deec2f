from __future__ import annotations

import filecmp
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CLEANER_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session", autouse=True)
def _own_cache(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The rule packs' parsed data (``cleaner.clean.rules._packs``) goes to a cache of the
    session's own, not the user's: the tests load hundreds of folders of their own."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests that run Ray (marked ``ray``) run last, together, in their usual order.

    They share one local Ray instance (:func:`ray_local`), which stays up from the first of
    them to the end of the session; run last, it is not idling beside the other tests, and
    above all it is not running its threads in this process while the local engine forks
    its workers (a fork is safe only from a single-threaded driver, see
    :mod:`cleaner.engines.local`). The test that lets the engine start and stop its own
    Ray (:func:`no_ray`) goes first, before the shared instance exists."""
    ray_items = [i for i in items if i.get_closest_marker("ray")]
    if not ray_items:
        return
    ray_items.sort(key=lambda i: "no_ray" not in getattr(i, "fixturenames", ()))  # stable
    items[:] = [i for i in items if not i.get_closest_marker("ray")] + ray_items


#: Ray as the engine starts it with ``--workers 2`` (see ``cleaner.engines.ray.RayEngine``)
RAY_INIT = {"num_cpus": 2, "log_to_driver": False, "include_dashboard": False, "configure_logging": False}


@pytest.fixture(scope="session")
def _ray_session():  # type: ignore[no-untyped-def]
    """Shuts down at the end of the session the instance :func:`ray_local` started."""
    yield
    if "ray" in sys.modules and sys.modules["ray"].is_initialized():
        sys.modules["ray"].shutdown()


@pytest.fixture
def ray_local(_ray_session: None):  # type: ignore[no-untyped-def]
    """One local Ray instance (2 CPUs) for the session, started by the first test that
    needs it, instead of one per run: the engine finds Ray initialised in this process,
    uses it and leaves it running (it shuts down only an instance it started; asserted
    after every test). Starting and stopping Ray costs seconds each time, and the runs'
    Ray worker processes (with cleaner imported) are reused from one test to the next."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(**RAY_INIT)
    yield ray
    assert ray.is_initialized(), "the run shut down a Ray instance it did not start"


@pytest.fixture
def no_ray(_ray_session: None):  # type: ignore[no-untyped-def]
    """No Ray in this process, as when a user runs ``--engine ray`` without ``--address``:
    the engine starts its own local instance, and must shut it down at the end."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # the shared instance (this test normally runs before it starts)
        ray.shutdown()
    yield ray
    assert not ray.is_initialized(), "the run left running the Ray instance it started"


@pytest.fixture(autouse=True)
def _no_ray_left(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A test not marked ``ray`` must not leave Ray initialised in this process (Ray Data
    starts it implicitly): the tests after it would fork local workers beside its threads."""
    yield
    if "ray" in sys.modules and not request.node.get_closest_marker("ray") and sys.modules["ray"].is_initialized():
        sys.modules["ray"].shutdown()  # this test fails, not every one after it
        pytest.fail("Ray was left initialised by a test not marked ray")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} (the shared bench data) is not beside the checkout")
    return SHARED


def run_cli(*args: str, expect: int | None = 0):
    """Run the real click app in-process and return the result."""
    from click.testing import CliRunner

    from cleaner.cli.commands import main

    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    if expect is not None:
        assert result.exit_code == expect, (result.exit_code, result.output, getattr(result, "stderr", ""))
    return result


def read_manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A real redis-server on a free loopback port, with an append-only file so that a
    restart after a kill keeps what was acknowledged."""

    def __init__(self, workdir: Path):
        import shutil

        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        self.dir = workdir
        self.port = _free_port()
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import subprocess
        import time

        import redis

        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


def same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(same_tree(a / d, b / d) for d in cmp.common_dirs)


def assert_same_run(a: Path, b: Path) -> None:
    """Two output folders hold the same manifest, duplicates and clean texts, byte for
    byte, and the run really had duplicates to agree on."""
    for name in ("manifest.jsonl", "duplicates.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert same_tree(a / "clean", b / "clean")
    dup = (a / "duplicates.json").read_text()
    assert "council-again.txt" in dup and "copy0.txt" in dup, "the corpus really has duplicates to agree on"
