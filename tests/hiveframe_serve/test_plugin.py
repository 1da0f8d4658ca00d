"""`hiveframe serve` as a user runs it (a real process on a loopback port), its discovery, its light
entry module, and sampling from one model in many threads with a neural generator."""

from __future__ import annotations

import concurrent.futures
import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hiveframe.cli import build_parser, main
from hiveframe.plugins import PluginHost

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins"),
                                                     os.environ.get("PYTHONPATH", "")])}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_hiveframe_serve_runs_answers_and_stops_on_ctrl_c(shop_model):
    port = free_port()
    code = "import sys; from hiveframe.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen([sys.executable, "-c", code, "serve", str(shop_model), "--port", str(port),
                                "--max-rows", "5000"], env=ENV, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        assert {t["name"] for t in httpx.get(url + "/tables").json()["tables"]} == {"users", "orders"}
        response = httpx.post(url + "/sample", json={"table": "users", "rows": 100, "seed": 1})
        assert response.status_code == 200 and response.text.count("\n") == 101
        assert httpx.post(url + "/sample", json={"table": "users", "rows": 5000}).status_code == 413
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_serve_of_a_missing_model_is_one_clear_error(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "nope"), "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("hiveframe serve: error:") == 1 and "Traceback" not in err


def test_the_command_shows_in_help_with_its_options():
    parser = build_parser(PluginHost())
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    options = {o for a in sub.choices["serve"]._actions for o in a.option_strings}
    assert {"--port", "--host", "--max-rows", "--workers", "--chunk-rows", "--debug"} <= options


def test_the_plugin_is_found_through_its_entry_point():
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="hiveframe")}
    assert names.get("serve") == "hiveframe_serve.plugin"
    assert "serve" in build_parser(PluginHost())._actions[-1].choices


def test_the_entry_module_imports_neither_starlette_nor_uvicorn():
    code = ("import sys, hiveframe_serve.plugin; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'anyio') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.fixture(scope="module")
def ctgan_model(tmp_path_factory, shop):
    from hiveframe.pipeline import Synthesizer

    synthesizer = Synthesizer(generator="ctgan", generator_params={"epochs": 1, "batch_size": 100}, seed=0,
                              small_table_rows=0)
    synthesizer.fit(shop)
    return synthesizer.save(tmp_path_factory.mktemp("ctgan") / "model")


def test_a_loaded_ctgan_module_stays_in_eval_mode(ctgan_model):
    """Sampling then never flips a shared module between modes (the race the test below caught)."""
    from hiveframe.pipeline import Synthesizer

    loaded = Synthesizer.load(ctgan_model)
    loaded.sample(rows={"users": 10}, seed=0)
    assert not loaded.table_generators["users"]._torch_model().sampling_module().training


@pytest.mark.slow
def test_ctgan_samples_the_same_rows_in_sixteen_threads_as_alone(ctgan_model):
    """A neural generator from one loaded model: its sampling must not share RNG or module state
    (20 s: 16 requests of 3,000 rows alone and at once; failed before load_model set eval mode)."""
    from hiveframe.pipeline import Synthesizer

    loaded = Synthesizer.load(ctgan_model)
    loaded.sample(rows={"users": 1}, seed=0)  # what the app's warm-up does
    requests = [(3000 + i, i) for i in range(16)]
    alone = [loaded.sample(rows={"users": n}, seed=s)["users"] for n, s in requests]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        together = list(pool.map(lambda r: loaded.sample(rows={"users": r[0]}, seed=r[1])["users"], requests))
    assert all(a.equals(b) for a, b in zip(alone, together, strict=True))
