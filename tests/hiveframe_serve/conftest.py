"""A small fitted model of two related tables, and a real uvicorn server on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from hiveframe.components import Database
from hiveframe.pipeline import Synthesizer


def shop_database(seed: int = 0) -> Database:
    rng = np.random.default_rng(seed)
    n_users = 300
    users = pa.table({"user_id": pa.array(np.arange(1, n_users + 1)),
                      "age": pa.array(rng.integers(18, 80, n_users)),
                      "plan": pa.array(rng.choice(["free", "pro", "team"], n_users, p=[0.6, 0.3, 0.1])),
                      "score": pa.array(rng.normal(50, 10, n_users))})
    per_user = rng.integers(0, 6, n_users)
    owners = np.repeat(np.arange(1, n_users + 1), per_user)
    orders = pa.table({"order_id": pa.array(np.arange(1, len(owners) + 1)), "user_id": pa.array(owners),
                       "amount": pa.array(np.round(rng.gamma(2.0, 20.0, len(owners)), 2)),
                       "channel": pa.array(rng.choice(["web", "app"], len(owners)))})
    return Database({"users": users, "orders": orders})


@pytest.fixture(scope="session")
def shop() -> Database:
    return shop_database()


@pytest.fixture(scope="session")
def shop_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gaussian-copula model of users -> orders, saved (fitted once per test session)."""
    synthesizer = Synthesizer(seed=3)
    synthesizer.fit(shop_database())
    return synthesizer.save(tmp_path_factory.mktemp("serve") / "model")


class RunningServer:
    """uvicorn serving ``app`` in a thread on a socket bound to a free loopback port."""

    def __init__(self, app) -> None:
        import uvicorn

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> RunningServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., RunningServer]]:
    """Start servers for a test (stopped at its end): ``serve(app).url``."""
    started: list[RunningServer] = []

    def start(app) -> RunningServer:
        server = RunningServer(app).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)
