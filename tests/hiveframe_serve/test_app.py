"""The sampling service over real HTTP (httpx against uvicorn on loopback): answers, formats, streaming,
concurrency from one loaded model, and every bad request."""

from __future__ import annotations

import concurrent.futures
import io
import json

import httpx
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hiveframe_serve.app import create_app
from hiveframe_serve.settings import ServeSettings

from hiveframe.pipeline import Synthesizer


@pytest.fixture(scope="module")
def synthesizer(shop_model) -> Synthesizer:
    return Synthesizer.load(shop_model)


@pytest.fixture
def url(serve, synthesizer) -> str:
    return serve(create_app(synthesizer, ServeSettings(max_rows=200_000, chunk_rows=100, workers=4))).url


def post(url: str, body, **kwargs) -> httpx.Response:
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx.post(url + "/sample", content=content, headers={"content-type": "application/json"},
                      timeout=60, **kwargs)


def test_tables_lists_the_model(url):
    answer = httpx.get(url + "/tables").json()
    tables = {t["name"]: t for t in answer["tables"]}
    assert set(tables) == {"users", "orders"}
    assert tables["users"]["root"] and not tables["orders"]["root"] and tables["orders"]["parents"] == ["users"]
    assert {c["name"] for c in tables["orders"]["columns"]} == {"order_id", "user_id", "amount", "channel"}
    assert answer["max_rows"] == 200_000 and answer["conditions"] is True
    assert httpx.get(url + "/health").json() == {"status": "ok"}


def test_csv_rows_are_the_models_rows_for_that_seed(url, synthesizer):
    response = post(url, {"table": "users", "rows": 1000, "seed": 7, "format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.headers["x-hiveframe-seed"] == "7" and response.headers["x-hiveframe-rows"] == "1000"
    got = pacsv.read_csv(io.BytesIO(response.content))
    expected = synthesizer.sample(rows={"users": 1000}, seed=7)["users"]
    assert got.num_rows == 1000 and got.column_names == expected.column_names
    assert got.column("user_id").to_pylist() == expected.column("user_id").to_pylist()
    assert got.column("plan").to_pylist() == expected.column("plan").to_pylist()
    assert got.column("score").to_pylist() == pytest.approx(expected.column("score").to_pylist())
    assert post(url, {"table": "users", "rows": 1000, "seed": 7}).content == response.content  # csv is the default


def test_arrow_comes_in_chunks_and_jsonl_as_objects(url):
    response = post(url, {"table": "users", "rows": 1000, "seed": 1, "format": "arrow"})
    reader = pa.ipc.open_stream(response.content)
    batches = list(reader)
    assert [b.num_rows for b in batches] == [100] * 10  # chunk_rows=100
    arrow = pa.Table.from_batches(batches)
    lines = post(url, {"table": "users", "rows": 1000, "seed": 1, "format": "jsonl"}).text.splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 1000 and [r["plan"] for r in rows] == arrow.column("plan").to_pylist()


def test_without_seed_each_request_gets_its_own_and_says_which(url):
    first, second = post(url, {"table": "users", "rows": 50}), post(url, {"table": "users", "rows": 50})
    assert first.headers["x-hiveframe-seed"] != second.headers["x-hiveframe-seed"]
    again = post(url, {"table": "users", "rows": 50, "seed": int(first.headers["x-hiveframe-seed"])})
    assert again.content == first.content


def test_whole_database_is_referentially_intact_and_tables_agree_by_seed_and_scale(url):
    lines = post(url, {"scale": 0.5, "seed": 4}).text.splitlines()
    by_table: dict[str, list[dict]] = {}
    for line in lines:
        item = json.loads(line)
        by_table.setdefault(item["table"], []).append(item["row"])
    users = {r["user_id"] for r in by_table["users"]}
    assert len(by_table["users"]) == 150 and by_table["orders"]
    assert all(r["user_id"] in users for r in by_table["orders"])
    orders = pacsv.read_csv(io.BytesIO(post(url, {"table": "orders", "scale": 0.5, "seed": 4}).content))
    assert orders.column("order_id").to_pylist() == [r["order_id"] for r in by_table["orders"]]


def test_concurrent_requests_get_the_rows_they_get_alone(url):
    """One loaded model, 16 clients at once: no request's rows depend on another's (no shared RNG)."""
    bodies = [{"table": "users", "rows": 300 + 10 * i, "seed": i, "format": "arrow"} for i in range(16)]
    alone = [post(url, body).content for body in bodies]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        together = list(pool.map(lambda body: post(url, body).content, bodies))
    assert together == alone
    assert len(set(alone)) == 16


def test_a_client_that_leaves_mid_stream_leaves_the_server_healthy(url):
    for _ in range(5):
        with httpx.stream("POST", url + "/sample", json={"table": "users", "rows": 40_000, "seed": 2},
                          timeout=60) as response:
            assert response.status_code == 200
            first = next(response.iter_bytes())
            assert first.startswith(b'"user_id"')
        # closed after one chunk of many
    assert httpx.get(url + "/health").json() == {"status": "ok"}
    response = post(url, {"table": "users", "rows": 40_000, "seed": 2})
    assert response.status_code == 200 and response.content.count(b"\n") == 40_001


@pytest.mark.parametrize(("body", "status", "words"), [
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, "must be a JSON object"),
    ({"table": "users", "rows": 10, "colour": "red"}, 400, "unknown field(s) 'colour'"),
    ({"table": "user", "rows": 10}, 404, "did you mean 'users'"),
    ({"table": "orders", "rows": 10}, 400, "gets its rows from its parents"),
    ({"table": "users", "rows": 10**9}, 413, "the limit is 200,000 rows per request"),
    ({"scale": 1000}, 413, "the limit is 200,000 rows"),
    ({"table": "users", "rows": 0}, 400, "positive integer"),
    ({"table": "users", "rows": 10, "scale": 1}, 400, "not both"),
    ({"table": "users", "rows": 10, "format": "xlsx"}, 400, "format must be one of"),
    ({"scale": 1, "format": "csv"}, 400, "whole database comes as jsonl"),
    ({"table": "users", "rows": 10, "seed": -1}, 400, "non-negative integer"),
    ({"table": "users", "rows": 10, "conditions": {"plan": "gold"}}, 400, "never seen when fitting"),
    ({"table": "users", "rows": 10, "conditions": {"colour": "red"}}, 400, "no such column"),
    ({"table": "users", "rows": 10, "conditions": ["plan"]}, 400, "must be an object"),
    ({"scale": 1, "conditions": {"plan": "pro"}}, 400, 'need a "table"'),
    ({"table": "users"}, 400, 'give "rows"'),
])
def test_bad_requests_get_one_clear_error(url, body, status, words):
    response = post(url, body)
    assert response.status_code == status, response.text
    error = response.json()
    assert words in error["error"] + error.get("hint", ""), error


def test_conditions_fix_the_columns_of_every_row(url, synthesizer):
    response = post(url, {"table": "users", "rows": 500, "seed": 3, "conditions": {"plan": "team"}})
    assert response.status_code == 200, response.text
    got = pacsv.read_csv(io.BytesIO(response.content))
    assert got.num_rows == 500 and set(got.column("plan").to_pylist()) == {"team"}
    expected = synthesizer.sample(rows={"users": 500}, seed=3, conditions={"users": {"plan": "team"}})
    assert got.column("score").to_pylist() == pytest.approx(expected["users"].column("score").to_pylist())


def test_a_huge_body_is_refused_with_the_limit(url):
    response = post(url, b'{"table": "users", "rows": 10, "pad": "' + b"x" * 100_000 + b'"}')
    assert response.status_code == 413 and "65,536 bytes" in response.json()["error"]
    assert httpx.get(url + "/tables").status_code == 200


def test_the_limit_counts_the_rows_generated_below_the_table(serve, synthesizer):
    """100 users bring about 250 orders with them: within 1,000 rows; 300 users and their orders are not."""
    small = serve(create_app(synthesizer, ServeSettings(max_rows=1000))).url
    assert post(small, {"table": "users", "rows": 100}).status_code == 200
    refused = post(small, {"table": "users", "rows": 300})
    assert refused.status_code == 413 and "users' and the tables below it" in refused.json()["error"]
