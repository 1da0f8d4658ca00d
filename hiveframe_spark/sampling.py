"""Distributed sampling: a fitted model generates a database in partitions on Spark's executors.

How the work is split (and why foreign keys stay valid):

1. The model directory's files are broadcast once; each executor loads them with
   :meth:`Synthesizer.load` (by registered names, no pickle) and keeps the loaded model for its
   later tasks.
2. Root tables (no driver parent) are split by row ranges: partition ``p`` generates its share of the
   root rows and *everything that hangs off them* (children, grandchildren, and secondary keys
   matched among the same partition's rows) with one call of the relational engine, seeded from
   ``(seed, partition)``; the engine derives each table's seeds from that. A root that drives no
   table (a lookup table referenced only through secondary keys) is generated whole in every
   partition from ``(seed, table)`` alone, so every partition references the same rows; it is
   written once.
3. Each partition's tables travel as Arrow IPC chunks in a persisted DataFrame; only their row counts
   reach the driver. Key ranges follow: partition ``p`` of table ``T`` owns the keys after those of
   partitions ``0..p-1``. Integer and counter keys (``CUST-00017``) are shifted by that offset, and so
   are the foreign keys that point to them, row by row; other key formats (random templates,
   parent-prefixed and concatenated keys) keep their values, made unique across partitions, and the
   foreign keys that point to them are joined to the new values in Spark.
4. Columns unique in the real table (names, codes) are unique within each partition; a value drawn in
   two partitions is replaced in Spark by a real value no partition drew, else by a new one in the real
   values' style (:mod:`hiveframe_spark._unique`), so they stay unique at every scale.
5. Each table is written straight from the executors (Parquet by default), with provenance.

Same model, seed and partition count: same rows.
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiveframe.errors import ConfigError, PersistenceError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from hiveframe.metadata import Metadata
    from hiveframe.pipeline import Synthesizer

log = logging.getLogger(__name__)

CHUNK_ROWS = 65_536
PART = "__hf_part"
POS = "__hf_pos"
OLD = "__hf_old_"
PAYLOAD_DDL = "table string, part int, chunk int, rows long, payload binary"


# -- the plan the driver makes and every task follows ---------------------------------------------
@dataclass
class KeyRule:
    """How one key column's values change from partition-local to global."""

    mode: str  # "arith" (shift by the owner's offset), "identity", "mapped" (join to new values)
    owner: str  # the table whose key this column holds (itself for own keys)
    owner_column: str
    fmt: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    partitions: int
    seed: int
    scale: float
    root_rows: dict[str, int]  # partitioned roots: total rows
    replicated: dict[str, int]  # lookup roots: rows (the same in every partition)
    order: list[str]
    own: dict[str, dict[str, KeyRule]]  # table -> own key/fill column -> rule
    refs: dict[str, dict[str, KeyRule]]  # table -> foreign key column -> rule of its owner
    concat: dict[str, dict[str, dict[str, Any]]]  # table -> key column -> concat/prefixed format

    def rows_of(self, root: str, part: int) -> int:
        total = self.root_rows[root]
        base, extra = divmod(total, self.partitions)
        return base + (1 if part < extra else 0)

    def to_json(self) -> str:
        def rules(d: dict[str, dict[str, KeyRule]]) -> dict[str, Any]:
            return {t: {c: r.__dict__ for c, r in cols.items()} for t, cols in d.items()}

        return json.dumps({"partitions": self.partitions, "seed": self.seed, "scale": self.scale,
                           "root_rows": self.root_rows, "replicated": self.replicated, "order": self.order,
                           "own": rules(self.own), "refs": rules(self.refs), "concat": self.concat})

    @classmethod
    def from_json(cls, text: str) -> Plan:
        d = json.loads(text)

        def rules(x: dict[str, Any]) -> dict[str, dict[str, KeyRule]]:
            return {t: {c: KeyRule(**r) for c, r in cols.items()} for t, cols in x.items()}

        return cls(partitions=d["partitions"], seed=d["seed"], scale=d["scale"], root_rows=d["root_rows"],
                   replicated=d["replicated"], order=d["order"], own=rules(d["own"]), refs=rules(d["refs"]),
                   concat=d["concat"])


def make_plan(synth: Synthesizer, *, scale: float, rows: Mapping[str, int], seed: int,
              partitions: int) -> Plan:
    """Split roots into partitioned and replicated ones and decide how each key column is remapped."""
    md = synth._require_fitted()  # noqa: SLF001 - the public check that a model is fitted
    assert synth.engine is not None
    relational = synth.engine.plan
    order = relational.order()
    roots = relational.roots()
    drivers_of = {relational.driver_parent(n, md) for n in order} - {None}
    unknown = sorted(set(rows) - set(roots))
    if unknown:
        raise ConfigError(f"rows can only be set for root tables; {unknown} get their rows from their parents",
                          hint=f"root tables: {roots}; use scale for the rest")

    def total(name: str) -> int:
        if name in rows:
            return int(rows[name])
        real = relational.tables[name].real_rows
        return max(1, int(round(real * scale))) if real else 0

    partitioned = {r: total(r) for r in roots if r in drivers_of}
    replicated = {r: total(r) for r in roots if r not in drivers_of}
    if not partitioned:  # nothing hangs off any root: split the biggest one
        biggest = max(replicated, key=replicated.get) if replicated else None
        if biggest is not None:
            partitioned[biggest] = replicated.pop(biggest)
    smallest = min([n for n in partitioned.values() if n > 0], default=1)
    if partitions > smallest:
        log.warning("using %d partitions instead of %d: root table(s) have only %d row(s) to split",
                    smallest, partitions, smallest)
        partitions = max(1, smallest)
    own: dict[str, dict[str, KeyRule]] = {}
    concat: dict[str, dict[str, dict[str, Any]]] = {}
    for name in order:
        own[name] = {}
        concat[name] = {}
        for col, key in relational.key_formats(name).items():
            fmt = dict(key.format)
            own[name][col] = _own_rule(name, col, fmt, replicated=name in replicated, unique=key.unique)
            if key.role == "key" and key.kind in ("concat", "prefixed"):
                concat[name][col] = fmt
    refs: dict[str, dict[str, KeyRule]] = {}
    for name in order:
        refs[name] = {}
        for fk in md.parents_of(name):
            for cc, pc in zip(fk.child_columns, fk.parent_columns, strict=True):
                owner, ocol = _owner(md, own, fk.parent_table, pc)
                rule = own.get(owner, {}).get(ocol)
                if rule is None:
                    refs[name][cc] = KeyRule("identity", owner, ocol)
                else:
                    refs[name][cc] = KeyRule(rule.mode, owner, ocol, rule.fmt)
    return Plan(partitions=partitions, seed=seed, scale=scale, root_rows=partitioned, replicated=replicated,
                order=order, own=own, refs=refs, concat=concat)


def _own_rule(table: str, col: str, fmt: dict[str, Any], *, replicated: bool, unique: bool) -> KeyRule:
    kind = fmt["kind"]
    if kind == "int" and (fmt.get("group") or replicated):
        return KeyRule("identity", table, col, fmt)  # per-group counters; or the same rows everywhere
    if kind in ("int", "counter") and not fmt.get("group"):
        return KeyRule("mapped" if replicated else "arith", table, col, fmt)
    if not unique:
        return KeyRule("identity", table, col, fmt)
    return KeyRule("mapped", table, col, fmt)


def _owner(md: Metadata, own: Mapping[str, Mapping[str, KeyRule]], table: str, col: str,
           depth: int = 0) -> tuple[str, str]:
    """The table whose generated key a column holds, following foreign keys upwards."""
    if col in own.get(table, {}) or depth > 32:
        return table, col
    for fk in md.parents_of(table):
        if col in fk.child_columns and not fk.is_self_reference:
            parent_col = fk.parent_columns[fk.child_columns.index(col)]
            return _owner(md, own, fk.parent_table, parent_col, depth + 1)
    return table, col


# -- executors: generation -------------------------------------------------------------------------
_MODELS: dict[str, Any] = {}  # per Python worker: model id -> loaded Synthesizer (loaded once per worker)


def _load_model(model: Mapping[str, Any]) -> Synthesizer:
    from hiveframe.pipeline import Synthesizer

    key = model["id"]
    if key not in _MODELS:
        folder = Path(tempfile.mkdtemp(prefix="hiveframe-model-"))
        try:
            for rel, data in model["files"].items():
                target = folder / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            _MODELS.clear()  # one model at a time per worker
            _MODELS[key] = Synthesizer.load(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return _MODELS[key]


def generate_partition(model: Mapping[str, Any], plan: Plan, part: int) -> dict[str, pa.Table]:
    """Every table of partition ``part``, with partition-local keys."""
    synth = _load_model(model)
    engine = synth.engine
    assert engine is not None
    return engine.sample_partition(synth.table_generators, scale=plan.scale,
                                   root_rows={r: plan.rows_of(r, part) for r in plan.root_rows},
                                   replicated=plan.replicated, seed=plan.seed, part=part)


def _generate_batches(batches: Iterator[pa.RecordBatch], model_bc: Any, plan_json: str
                      ) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    plan = Plan.from_json(plan_json)
    for batch in batches:
        for part in batch.column(0).to_pylist():
            tables = generate_partition(model_bc.value, plan, int(part))
            for name in plan.order:
                table = tables[name]  # lookup roots travel from every partition: their keys map by position
                for chunk, start in enumerate(range(0, max(table.num_rows, 1), CHUNK_ROWS)):
                    piece = table.slice(start, CHUNK_ROWS)
                    sink = pa.BufferOutputStream()
                    with pa.ipc.new_stream(sink, piece.schema) as writer:
                        writer.write_table(piece)
                    yield pa.RecordBatch.from_pydict(
                        {"table": [name], "part": [int(part)], "chunk": [chunk], "rows": [piece.num_rows],
                         "payload": [sink.getvalue().to_pybytes()]},
                        schema=pa.schema([("table", pa.string()), ("part", pa.int32()), ("chunk", pa.int32()),
                                          ("rows", pa.int64()), ("payload", pa.binary())]))


# -- executors: local keys -> global keys ----------------------------------------------------------
def _shift(arr: pa.ChunkedArray | pa.Array, rule: KeyRule, offset: int) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    if offset == 0:
        return arr
    if rule.fmt.get("kind") == "counter":
        width = int(rule.fmt.get("width", 0))
        pattern = re.compile(r"^(\D*)(\d+)(\D*)$")
        out = []
        for v in arr.to_pylist():
            m = pattern.match(v) if v is not None else None
            out.append(None if v is None else (f"{m.group(1)}{int(m.group(2)) + offset:0{width}d}{m.group(3)}"
                                               if m else v))
        return pa.array(out, type=arr.type)
    t = arr.type
    if pa.types.is_integer(t):
        return pc.add(arr.cast(pa.int64()), offset).cast(t)
    if pa.types.is_floating(t):
        return pc.add(arr, float(offset))
    if pa.types.is_decimal(t):
        return pc.add(arr, pa.scalar(offset).cast(t)).cast(t)
    return arr


def _remap_batches(batches: Iterator[pa.RecordBatch], plan_json: str, table: str, offsets: Mapping[str, list[int]],
                   target: pa.Schema, keep_old: list[str]) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    from hiveframe_spark.types import spark_compatible

    plan = Plan.from_json(plan_json)
    own, refs = plan.own[table], plan.refs[table]
    for batch in batches:
        parts = batch.column("part").to_pylist()
        payloads = batch.column("payload").to_pylist()
        chunks = batch.column("chunk").to_pylist()
        for part, chunk, payload in zip(parts, chunks, payloads, strict=True):
            local = pa.ipc.open_stream(pa.py_buffer(payload)).read_all()
            cols = {c: local.column(c) for c in local.column_names}
            old = {c: cols[c] for c in keep_old}
            for col, rule in own.items():
                if rule.mode == "arith":
                    cols[col] = _shift(cols[col], rule, offsets[table][part])
            for col, rule in refs.items():
                if rule.mode == "arith":
                    cols[col] = _shift(cols[col], rule, offsets[rule.owner][part])
            out = pa.table(list(cols.values()), names=list(cols))
            out = spark_compatible(_floor_ns(out), name=table)
            n = out.num_rows
            extra = {PART: pa.array([part] * n, pa.int32()),
                     POS: pa.array(range(chunk * CHUNK_ROWS, chunk * CHUNK_ROWS + n), pa.int64())}
            for c in keep_old:
                extra[OLD + c] = old[c]
            full = pa.table(list(out.columns) + list(extra.values()), names=out.column_names + list(extra))
            yield from full.cast(target).to_batches()


def _floor_ns(table: pa.Table) -> pa.Table:
    """Generated timestamps keep microseconds (Spark's unit); sub-microsecond digits are noise here."""
    import pyarrow as pa

    cols = []
    for f in table.schema:
        c = table.column(f.name)
        if pa.types.is_timestamp(f.type) and f.type.unit == "ns":
            c = c.cast(pa.timestamp("us", tz=f.type.tz), safe=False)
        cols.append(c)
    return pa.table(cols, names=table.column_names)


# -- the driver --------------------------------------------------------------------------------------
def model_files(model_dir: str | Path) -> dict[str, bytes]:
    root = Path(model_dir)
    if not (root / "manifest.json").is_file():
        raise PersistenceError(f"{str(root)!r} is not a hiveframe model directory (no manifest.json)",
                               hint="create one with `hiveframe fit SOURCE -o MODEL_DIR`")
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def sample_to(model_dir: str | Path, out: str | Path, *, scale: float = 1.0, rows: Mapping[str, int] | None = None,
              seed: int | None = None, partitions: int | None = None, spark: SparkSession | None = None,
              format: str = "parquet", mode: str = "errorifexists", local: bool = True,
              master: str = "local[2]", spark_conf: Mapping[str, Any] | None = None,
              provenance: Mapping[str, Any] | None = None,
              catalog: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Generate the model's database on Spark and write it to ``out`` (a folder/URI or ``catalog:db``).

    ``catalog``: the output's catalog entry (docs/catalog.md) without its rows; every table is written
    with the entry completed by the rows counted before writing (part files' footers, the table folder's
    ``_catalog.json`` or the catalog table's property).

    ``partitions`` (default: the cluster's parallelism, at least enough for ~200,000 rows each) fixes
    how the roots are split; the same model, seed and partition count give the same rows. Returns
    per-table row counts and locations; nothing but counts reaches the driver.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from hiveframe.pipeline import Synthesizer
    from hiveframe_spark import provenance as prov
    from hiveframe_spark.io import WRITE_FORMATS, WRITE_MODES, parse_target, write_frame
    from hiveframe_spark.session import get_or_create

    if not scale or scale <= 0:
        raise ConfigError(f"scale must be positive, got {scale}")
    format = {"jsonl": "json"}.get(format, format)  # Spark's json writer writes JSON lines
    if format not in WRITE_FORMATS:
        raise ConfigError(f"format={format!r} is not one of {WRITE_FORMATS}")
    if mode not in WRITE_MODES:
        raise ConfigError(f"mode={mode!r} is not one of {WRITE_MODES}")
    if partitions is not None and (not isinstance(partitions, int) or partitions < 1):
        raise ConfigError(f"partitions must be a positive integer, got {partitions!r}")
    files = model_files(model_dir)
    synth = Synthesizer.load(model_dir)
    meta = prov.from_model(model_dir)
    seed = synth.seed if seed is None else int(seed)
    spark = get_or_create(spark, local=local, master=master, config=spark_conf)
    if partitions is None:
        expected = sum(synth.table_rows.values()) * scale
        partitions = max(spark.sparkContext.defaultParallelism, math.ceil(expected / 200_000))
    plan = make_plan(synth, scale=float(scale), rows=dict(rows or {}), seed=seed, partitions=partitions)
    dest = parse_target(str(out) if isinstance(out, Path) else out)
    locations = {t: (f"{dest[1]}.{t}" if dest[0] == "catalog" else f"{dest[1].rstrip('/')}/{t}") for t in plan.order}
    _check_targets(spark, dest, locations, mode)

    model_bc = spark.sparkContext.broadcast({"id": meta["model_id"], "files": files})
    plan_json = plan.to_json()
    log.info("sampling %s on Spark: %d partition(s), seed %d, scale %s", model_dir, plan.partitions, seed, scale)
    payload = (spark.range(0, plan.partitions, 1, numPartitions=plan.partitions)
               .mapInArrow(lambda it: _generate_batches(it, model_bc, plan_json), PAYLOAD_DDL)
               .persist(StorageLevel.MEMORY_AND_DISK))
    maps: dict[str, dict[str, DataFrame]] = {}
    cached: list[DataFrame] = []  # unique columns' replacements, kept until their table is written
    try:
        sizes: dict[str, list[int]] = {t: [0] * plan.partitions for t in plan.order}
        try:  # the first action: every partition is generated here
            counted = payload.groupBy("table", "part").agg(F.sum("rows").alias("n")).collect()
        except Exception as exc:  # noqa: BLE001 - a task failure arrives wrapped in JVM frames
            from hiveframe.errors import PluginError
            from hiveframe_spark.session import error_summary

            raise PluginError(f"generating partitions on the executors failed: {error_summary(exc)}",
                              plugin="spark", hint="executors need the same hiveframe and plugins as the "
                              "driver; Synthesizer.load(MODEL).sample() in-process shows the full error") from None
        for row in counted:
            sizes[row["table"]][row["part"]] = int(row["n"])
        offsets = {t: _prefix_sums(v) if t not in plan.replicated else [0] * plan.partitions
                   for t, v in sizes.items()}
        totals = {t: (v[0] if t in plan.replicated else sum(v)) for t, v in sizes.items()}
        rec = prov.record(provenance, **{**meta, "seed": seed, "scale": scale, "partitions": plan.partitions,
                                         "engine": "spark"})
        entry = None
        if catalog is not None:
            from hiveframe.pipeline.catalog import with_rows

            entry = with_rows(catalog, totals)
        for name in plan.order:
            df = _table_frame(spark, payload, synth, plan, name, plan_json, offsets, maps, cached)
            write_frame(spark, df, dest, locations[name], {**rec, "table": name, "rows": totals[name]},
                        fmt=format, mode=mode, catalog=entry)
            log.info("wrote %s: %d rows", locations[name], totals[name])
        if dest[0] == "path":
            prov.write_file(spark, dest[1], {**rec, "tables": locations, "rows": totals})
    finally:
        payload.unpersist()
        for m in maps.values():
            for frame in m.values():
                frame.unpersist()
        for frame in cached:
            frame.unpersist()
        model_bc.unpersist()
    return {"tables": {t: {"rows": totals[t], "location": locations[t]} for t in plan.order},
            "partitions": plan.partitions, "seed": seed, "model_id": meta["model_id"]}


def _prefix_sums(values: list[int]) -> list[int]:
    out, acc = [], 0
    for v in values:
        out.append(acc)
        acc += v
    return out


def _check_targets(spark: SparkSession, dest: tuple[str, str], locations: Mapping[str, str], mode: str) -> None:
    from hiveframe.errors import SourceError
    from hiveframe_spark.io import _exists, refuse_foreign

    if mode == "overwrite":
        refuse_foreign(spark, dest, locations)
        return
    taken = [loc for loc in locations.values()
             if (spark.catalog.tableExists(loc) if dest[0] == "catalog" else _exists(spark, loc))]
    if taken:
        raise SourceError(f"cannot write: {', '.join(map(repr, taken))} already exist(s)",
                          hint="choose a new output, or pass mode='overwrite'")


def _target_schema(synth: Synthesizer, table: str, keep_old: list[str]) -> pa.Schema:
    """The Arrow schema Spark expects back from a remapping task for ``table``."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    from hiveframe_spark.types import spark_compatible, spark_schema_of

    md = synth.metadata
    assert md is not None and synth.engine is not None
    real = synth.engine.plan.tables[table].schema
    assert real is not None
    fields = [real.field(c) for c in md.table(table).column_names]
    empty = spark_compatible(pa.schema(fields).empty_table(), name=table)
    base = to_arrow_schema(spark_schema_of(empty.schema))
    extra = [pa.field(PART, pa.int32()), pa.field(POS, pa.int64())]
    extra += [pa.field(OLD + c, base.field(c).type) for c in keep_old]
    return pa.schema(list(base) + extra)


def _table_frame(spark: SparkSession, payload: DataFrame, synth: Synthesizer, plan: Plan, name: str,
                 plan_json: str, offsets: Mapping[str, list[int]], maps: dict[str, dict[str, DataFrame]],
                 cached: list[DataFrame]) -> DataFrame:
    """One table with global keys (arithmetic shifts on the executors, joins for the other formats),
    and its unique columns unique across partitions (see :mod:`hiveframe_spark._unique`)."""
    from pyspark.sql import functions as F

    from hiveframe.pipeline.plan import derive_seed
    from hiveframe_spark._unique import keep_unique
    from hiveframe_spark.types import spark_schema_of

    md = synth.metadata
    assert md is not None
    own, refs = plan.own[name], plan.refs[name]
    mapped_own = [c for c, r in own.items() if r.mode == "mapped"]
    joined_refs = {c: r for c, r in refs.items() if r.mode == "mapped"}
    keep_old = list(dict.fromkeys(mapped_own + [fmt["fk_column"] for fmt in plan.concat[name].values()
                                                if fmt["kind"] == "prefixed"]))
    target = _target_schema(synth, name, keep_old)
    frame = payload.where(F.col("table") == name).mapInArrow(
        lambda it: _remap_batches(it, plan_json, name, offsets, target, keep_old), spark_schema_of(target))
    columns = md.table(name).column_names
    shuffled = False
    # foreign keys to tables whose keys were not shifted arithmetically: join to their new values
    for col, rule in joined_refs.items():
        if rule.owner == name:
            continue  # a self-reference: resolved below, once this table's own keys are final
        frame = _join_new(frame, col, maps[rule.owner][rule.owner_column])
        shuffled = True
    # own keys in other formats: concatenations and parent-prefixed keys follow their parts
    for col, fmt in plan.concat[name].items():
        if fmt["kind"] == "concat":
            parts = [F.col(f"`{c}`").cast("string") for c in fmt["columns"]]
            frame = frame.withColumn(col, F.concat_ws(fmt["sep"], *parts) if len(parts) > 1 else parts[0])
        elif fmt["kind"] == "prefixed":
            strip, fkc = int(fmt["strip"]), fmt["fk_column"]
            new_fk = F.col(f"`{fkc}`")
            stem = F.expr(f"substring(`{fkc}`, 1, length(`{fkc}`) - {strip})") if strip else new_fk
            tail = F.expr(f"substring(`{col}`, length(`{OLD + fkc}`) - {strip} + 1)")
            frame = frame.withColumn(col, F.concat(stem, tail))
    for col in mapped_own:
        if own[col].fmt.get("kind") in ("template", "prefixed") and name not in plan.replicated:
            frame = _unique_across_partitions(frame, col)
            shuffled = True
    assert synth.engine is not None
    if name not in plan.replicated and plan.partitions > 1:  # a lookup root is the same in every partition
        for col, pool in synth.engine.plan.tables[name].unique.items():
            if col in columns:
                fixed = keep_unique(spark, frame, col, pool, seed=derive_seed(plan.seed, "unique", name, col),
                                    partitions=plan.partitions, cached=cached)
                shuffled = shuffled or fixed is not frame
                frame = fixed
    if name in plan.replicated and mapped_own:
        first = frame.where(F.col(PART) == 0).select(POS, *[F.col(f"`{c}`").alias("__new_" + c) for c in mapped_own])
        frame = frame.join(first, on=POS, how="left")
        for c in mapped_own:
            frame = frame.withColumn(c, F.col("__new_" + c)).drop("__new_" + c)
        shuffled = True
    # keep old -> new maps for the children that join to this table
    needed = {r.owner_column for t in plan.order for r in plan.refs[t].values() if r.owner == name and r.mode == "mapped"}
    if needed:
        maps[name] = {}
        for c in needed:
            m = frame.select(F.col(PART).alias("__m_part"), F.col(f"`{OLD + c}`").alias("__m_old"),
                             F.col(f"`{c}`").alias("__m_new")).persist()
            maps[name][c] = m
    for col, rule in joined_refs.items():
        if rule.owner == name:
            frame = _join_new(frame, col, maps[name][rule.owner_column])
            shuffled = True
    if name in plan.replicated:
        frame = frame.where(F.col(PART) == 0)
    if shuffled:
        frame = frame.repartition(plan.partitions, PART).sortWithinPartitions(PART, POS)
    return frame.select(*[F.col(f"`{c}`") for c in columns])


def _join_new(frame: DataFrame, col: str, mapping: DataFrame) -> DataFrame:
    """Replace ``col`` (partition-local values) with the owner's new values for the same partition.

    A lookup root's map holds every partition's copy, each row mapped to partition 0's key.
    """
    from pyspark.sql import functions as F

    cond = (F.col(f"`{col}`") == F.col("__m_old")) & (F.col(PART) == F.col("__m_part"))
    joined = frame.join(mapping, on=cond, how="left")
    return joined.withColumn(col, F.col("__m_new")).drop("__m_old", "__m_new", "__m_part")


def _unique_across_partitions(frame: DataFrame, col: str) -> DataFrame:
    """Template keys are unique per partition; a value drawn in two partitions gets a partition suffix."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    w = Window.partitionBy(F.col(f"`{col}`"))
    first = F.min(F.col(PART)).over(w)
    return frame.withColumn(col, F.when(F.col(f"`{col}`").isNull() | (F.col(PART) == first), F.col(f"`{col}`"))
                            .otherwise(F.concat(F.col(f"`{col}`"), F.lit("_p"), F.col(PART).cast("string"))))


# -- checking the output -----------------------------------------------------------------------------
def integrity(spark: SparkSession, frames: Mapping[str, DataFrame], metadata: Metadata) -> dict[str, Any]:
    """Orphan foreign keys and duplicate primary keys, counted in Spark (one job per check)."""
    from pyspark.sql import functions as F

    report: dict[str, Any] = {"foreign_keys": {}, "primary_keys": {}}
    for table in metadata.tables:
        if table.name in frames and table.primary_key:
            pk = [F.col(f"`{c}`") for c in table.primary_key]
            row = frames[table.name].agg(F.count(F.lit(1)).alias("n"), F.count_distinct(*pk).alias("d")).first()
            report["primary_keys"][table.name] = {"rows": int(row["n"]), "duplicates": int(row["n"] - row["d"])}
    for fk in metadata.foreign_keys:
        if fk.child_table not in frames or fk.parent_table not in frames:
            continue
        keys = [f"__c{i}" for i in range(len(fk.child_columns))]
        cond = F.lit(True)
        for c in fk.child_columns:
            cond = cond & F.col(f"`{c}`").isNotNull()
        refs = frames[fk.child_table].where(cond).select(
            *[F.col(f"`{c}`").alias(k) for c, k in zip(fk.child_columns, keys, strict=True)])
        parent = frames[fk.parent_table].select(
            *[F.col(f"`{p}`").alias(k) for p, k in zip(fk.parent_columns, keys, strict=True)]
        ).distinct().withColumn("__found", F.lit(1))
        row = refs.join(parent, on=keys, how="left").agg(
            F.count(F.lit(1)).alias("n"), F.sum(F.when(F.col("__found").isNull(), 1).otherwise(0)).alias("bad")
        ).first()
        report["foreign_keys"][fk.name] = {"references": int(row["n"]), "orphans": int(row["bad"] or 0)}
    checked = sum(v["references"] for v in report["foreign_keys"].values())
    bad = sum(v["orphans"] for v in report["foreign_keys"].values())
    dups = sum(v["duplicates"] for v in report["primary_keys"].values())
    report["integrity"] = 1.0 if checked == 0 else 1.0 - bad / checked
    report["ok"] = bad == 0 and dups == 0
    return report


def read_output(spark: SparkSession, out: str | Path, metadata: Metadata, *, format: str = "parquet"
                ) -> dict[str, DataFrame]:
    """The tables :func:`sample_to` wrote, as lazy DataFrames."""
    base = str(out)
    if base.startswith("catalog:"):
        db = base[len("catalog:"):]
        return {t: spark.table(f"{db}.{t}") for t in metadata.table_names}
    return {t: spark.read.format(format).load(f"{base.rstrip('/')}/{t}") for t in metadata.table_names}
