"""The sampling service: a Starlette app around one loaded model.

Concurrency: every request samples with its own seed through ``Synthesizer.sample``, which builds
fresh random generators from that seed for every table (the engine's ``derive_seed``; the generators'
``_sample`` take the seed, never a generator kept on the model), so requests share the model's
fitted state only for reading. The app warms the model up (one tiny sample) before it serves, so
lazily built state (a generator's torch module) is built once, not raced for. Sampling runs in worker
threads, at most ``workers`` at a time; the event loop only parses requests and streams bytes.
``tests/hiveframe_serve`` checks that concurrent requests give the rows the same requests give alone.

Streaming: the table is sampled whole (the engine is not incremental), then encoded and sent in chunks
of ``chunk_rows`` rows, so the first bytes leave while later chunks are still being encoded and memory
holds one encoded chunk per request. A client that disconnects mid-stream ends its generator; nothing
else is affected.
"""

from __future__ import annotations

import io
import json
import logging
import math
import secrets
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from hiveframe.errors import ConfigError, HiveframeError, did_you_mean
from hiveframe_serve.settings import ServeSettings

if TYPE_CHECKING:
    import pyarrow as pa
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from hiveframe.pipeline import Synthesizer
    from hiveframe.plugins import PluginHost

log = logging.getLogger(__name__)

FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson",
           "arrow": "application/vnd.apache.arrow.stream"}
FIELDS = ("table", "rows", "scale", "conditions", "seed", "format")
MAX_SEED = 2**63 - 1


class RequestError(Exception):
    """A request the service refuses: HTTP ``status`` with one message and a hint (sent as JSON)."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


@attrs.define(frozen=True)
class SampleRequest:
    """A checked ``POST /sample`` body: one table (``rows`` of a root table, or the table out of the
    database sampled at ``scale``) or, with ``table`` None, the whole database at ``scale``."""

    table: str | None
    rows: int | None
    scale: float
    conditions: Mapping[str, Any] | None
    seed: int
    format: str


def load_model(path: str, *, host: PluginHost | None = None) -> Synthesizer:
    from hiveframe.pipeline import Synthesizer

    return Synthesizer.load(path, host=host)



# -- the request -------------------------------------------------------------------------------------
def parse_request(body: bytes, synthesizer: Synthesizer, settings: ServeSettings) -> SampleRequest:
    """Check a ``POST /sample`` body against the model and the limits; every problem is one 4xx."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"the request body is not valid JSON: {exc}",
                           hint='send e.g. {"table": "users", "rows": 1000, "format": "csv"}') from None
    if not isinstance(data, dict):
        raise RequestError(400, f"the request body must be a JSON object, not {type(data).__name__}",
                           hint='send e.g. {"table": "users", "rows": 1000}')
    unknown = [k for k in data if k not in FIELDS]
    if unknown:
        raise RequestError(400, f"unknown field(s) {', '.join(map(repr, unknown))}",
                           hint=did_you_mean(unknown[0], FIELDS) or f"fields: {', '.join(FIELDS)}")
    metadata = synthesizer.metadata
    assert metadata is not None
    table = data.get("table")
    if table is not None and (not isinstance(table, str) or not metadata.has_table(table)):
        raise RequestError(404, f"unknown table {table!r}",
                           hint=did_you_mean(str(table), metadata.table_names) or "GET /tables lists them")
    fmt = data.get("format", "jsonl" if table is None else "csv")
    if fmt not in FORMATS:
        raise RequestError(400, f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if table is None and fmt != "jsonl":
        raise RequestError(400, f"the whole database comes as jsonl (one {{\"table\", \"row\"}} object a line), "
                           f"not {fmt}", hint='ask for "format": "jsonl", or one table at a time with the same '
                           '"seed" and "scale" (the tables then fit together)')
    rows, scale = data.get("rows"), data.get("scale")
    if rows is not None and scale is not None:
        raise RequestError(400, 'give "rows" or "scale", not both')
    if rows is not None:
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise RequestError(400, f'"rows" must be a positive integer, got {rows!r}')
        if table is None:
            raise RequestError(400, '"rows" needs a "table"', hint='the whole database is sized with "scale"')
        if table not in root_tables(metadata):
            raise RequestError(400, f"table {table!r} gets its rows from its parents; \"rows\" applies to root "
                               f"tables ({', '.join(root_tables(metadata))})", hint=f'ask for {table!r} with "scale" instead')
    elif scale is None:
        if table is not None:
            example = json.dumps({"table": table, "rows": 1000})
            raise RequestError(400, 'give "rows" (root tables) or "scale"', hint=f"e.g. {example}")
        scale = 1.0
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float))
                              or not math.isfinite(scale) or scale <= 0):
        raise RequestError(400, f'"scale" must be a positive number, got {scale!r}')
    seed = data.get("seed")
    if seed is None:
        seed = secrets.randbelow(2**31)
    elif isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise RequestError(400, f'"seed" must be a non-negative integer, got {seed!r}')
    conditions = data.get("conditions")
    if conditions is not None and conditions != {}:
        if not isinstance(conditions, dict):
            raise RequestError(400, '"conditions" must be an object of column: value')
        if table is None:
            raise RequestError(400, '"conditions" need a "table"')
    else:
        conditions = None
    request = SampleRequest(table, rows, float(scale) if scale is not None else 1.0, conditions, seed, fmt)
    generated = generated_rows(synthesizer, request)
    if generated > settings.max_rows:
        what = f"table {table!r} and the tables below it" if rows is not None else "the database"
        raise RequestError(413, f"this request would generate about {generated:,.0f} rows ({what}); "
                           f"the limit is {settings.max_rows:,} rows per request",
                           hint="ask for fewer rows or a smaller scale (the server's --max-rows sets the limit)")
    return request


def generated_rows(synthesizer: Synthesizer, request: SampleRequest) -> float:
    """The rows a request makes the model generate, in every table (the work and memory it costs)."""
    metadata = synthesizer.metadata
    assert metadata is not None
    real = synthesizer.table_rows
    if request.rows is None:
        return sum(real.values()) * request.scale
    assert request.table is not None
    below = _subtree(metadata, request.table)
    growth = request.rows / max(1, real.get(request.table, 0))
    return request.rows + sum(real.get(t, 0) for t in below if t != request.table) * growth


def root_tables(metadata: Any) -> list[str]:
    """Tables whose rows no other table drives (a self-reference, e.g. a manager column, still makes a root)."""
    return [t for t in metadata.table_names
            if all(fk.parent_table == t for fk in metadata.parents_of(t))]


def _subtree(metadata: Any, table: str) -> set[str]:
    seen = {table}
    todo = [table]
    while todo:
        for fk in metadata.children_of(todo.pop()):
            if fk.child_table not in seen:
                seen.add(fk.child_table)
                todo.append(fk.child_table)
    return seen


# -- sampling and encoding ---------------------------------------------------------------------------
def sample(synthesizer: Synthesizer, request: SampleRequest) -> dict[str, pa.Table]:
    """The tables a request asks for (blocking: run it in a worker thread)."""
    metadata = synthesizer.metadata
    assert metadata is not None
    kwargs: dict[str, Any] = {"seed": request.seed}
    if request.conditions:
        kwargs["conditions"] = {request.table: dict(request.conditions)}
    if request.rows is not None:
        # only the requested root grows; other roots (and what hangs below them only) stay empty
        database = synthesizer.sample(rows={**{t: 0 for t in root_tables(metadata)}, request.table: request.rows}, **kwargs)
    else:
        database = synthesizer.sample(scale=request.scale, **kwargs)
    if request.table is not None:
        return {request.table: database[request.table]}
    return {name: database[name] for name in database.names}


def encode(tables: Mapping[str, pa.Table], fmt: str, chunk_rows: int, whole: bool) -> Iterator[bytes]:
    """The response body in chunks of ``chunk_rows`` rows (a sync generator: Starlette runs each
    step in a worker thread)."""
    if fmt == "csv":
        yield from _csv_chunks(next(iter(tables.values())), chunk_rows)
    elif fmt == "arrow":
        yield from _arrow_chunks(next(iter(tables.values())), chunk_rows)
    else:
        for name, table in tables.items():
            yield from _jsonl_chunks(table, chunk_rows, name if whole else None)


def _csv_chunks(table: pa.Table, chunk_rows: int) -> Iterator[bytes]:
    import pyarrow.csv as pacsv

    if table.num_rows == 0:
        buf = io.BytesIO()
        pacsv.write_csv(table, buf)
        yield buf.getvalue()
        return
    for start in range(0, table.num_rows, chunk_rows):
        buf = io.BytesIO()
        pacsv.write_csv(table.slice(start, chunk_rows), buf,
                        write_options=pacsv.WriteOptions(include_header=start == 0))
        yield buf.getvalue()


def _jsonl_chunks(table: pa.Table, chunk_rows: int, name: str | None) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for col in table.columns:
        if pa.types.is_floating(col.type):  # JSON has no NaN or infinity: they become null
            col = pc.if_else(pc.is_finite(col), col, pa.scalar(None, col.type))
        columns.append(col)
    clean = pa.Table.from_arrays(columns, names=table.column_names)
    for start in range(0, clean.num_rows, chunk_rows):
        rows = clean.slice(start, chunk_rows).to_pylist()
        if name is not None:
            rows = [{"table": name, "row": row} for row in rows]
        yield "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows).encode("utf-8")


def _arrow_chunks(table: pa.Table, chunk_rows: int) -> Iterator[bytes]:
    import pyarrow as pa

    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=chunk_rows):
            writer.write_batch(batch)
            yield _drain(sink)
    yield _drain(sink)  # the end-of-stream marker


def _drain(sink: io.BytesIO) -> bytes:
    data = sink.getvalue()
    sink.seek(0)
    sink.truncate()
    return data


# -- the app -----------------------------------------------------------------------------------------
def describe_tables(synthesizer: Synthesizer) -> list[dict[str, Any]]:
    metadata = synthesizer.metadata
    assert metadata is not None
    roots = root_tables(metadata)
    return [{"name": t.name, "root": t.name in roots,
             "parents": sorted({fk.parent_table for fk in metadata.parents_of(t.name)} - {t.name}),
             "rows_at_scale_1": synthesizer.table_rows.get(t.name),
             "columns": [{"name": c.name, "kind": c.kind.value} for c in t.columns]}
            for t in metadata.tables]


def _error(status: int, message: str, hint: str | None = None) -> Response:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message, **({"hint": hint} if hint else {})}, status_code=status)


def create_app(synthesizer: Synthesizer, settings: ServeSettings | None = None, *,
               model_path: str | None = None, warm_up: bool = True) -> Starlette:
    """The ASGI app serving ``synthesizer`` (loaded once, shared by every request)."""
    import contextlib

    import anyio
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    from hiveframe import __version__

    settings = settings or ServeSettings()
    metadata = synthesizer.metadata
    if metadata is None:
        raise ConfigError("the model is not fitted", hint="serve a model directory written by `hiveframe fit`")
    limiter: anyio.CapacityLimiter | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        nonlocal limiter
        limiter = anyio.CapacityLimiter(settings.workers)
        if warm_up:  # build lazily loaded generator state once, before requests race for it
            await anyio.to_thread.run_sync(
                lambda: synthesizer.sample(rows={t: 1 for t in root_tables(metadata)}, seed=0))
        yield

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def tables(request: Request) -> Response:
        return JSONResponse({"model": model_path, "hiveframe_version": __version__,
                             "conditions": True, "max_rows": settings.max_rows,
                             "tables": describe_tables(synthesizer)})

    async def sample_endpoint(request: Request) -> Response:
        body = bytearray()
        async for part in request.stream():
            body += part
            if len(body) > settings.max_body_bytes:
                return _error(413, f"the request body is larger than {settings.max_body_bytes:,} bytes",
                              hint="a sample request is a small JSON object")
        try:
            parsed = parse_request(bytes(body), synthesizer, settings)
            tables = await anyio.to_thread.run_sync(sample, synthesizer, parsed, limiter=limiter)
        except RequestError as exc:
            return _error(exc.status, exc.message, exc.hint)
        except ConfigError as exc:
            return _error(400, exc.message, exc.hint)
        except HiveframeError as exc:
            log.warning("sampling failed: %s", exc)
            return _error(500, exc.message, exc.hint)
        headers = {"X-Hiveframe-Seed": str(parsed.seed),
                   "X-Hiveframe-Rows": str(sum(t.num_rows for t in tables.values()))}
        return StreamingResponse(encode(tables, parsed.format, settings.chunk_rows, parsed.table is None),
                                 media_type=FORMATS[parsed.format], headers=headers)

    return Starlette(routes=[Route("/health", health, methods=["GET"]), Route("/tables", tables, methods=["GET"]),
                             Route("/sample", sample_endpoint, methods=["POST"])],
                     lifespan=lifespan)
