"""Shrinking tables inside Spark before they reach the driver, keeping foreign keys intact.

Single tables are sampled to an exact number of rows, uniformly or stratified by a column (every value
of the column keeps its share, and even the rarest value keeps a row). Related tables are subset the
way the data was made: each table's rows hang off one *driver* parent (the table's ``driver`` foreign
key, else one chosen the way the relational engine chooses), so a sampled root keeps *all* its children, grandchildren and so on
(semi-joins down the driver edges), which keeps children-per-parent counts real. Then every other
foreign key is closed upwards: a kept row whose parent was not sampled brings that parent row along
(and its parents), so no kept row ever points at a missing one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hiveframe.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from hiveframe.metadata import ForeignKey, Metadata

log = logging.getLogger(__name__)

STRATEGIES = ("uniform", "stratified")
MAX_STRATA = 10_000
_STRATUM = "__hiveframe_stratum"
_RAND = "__hiveframe_rand"
_RANK = "__hiveframe_rank"
_NULL_STRATUM = "\u0000null"


@dataclass
class SamplingPlan:
    """The in-memory budget and how to honour it."""

    max_rows: int | None = None
    sample_size: int | None = None
    strategy: str = "uniform"
    stratify_by: str | Mapping[str, str] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"sampling_strategy={self.strategy!r} is not one of {STRATEGIES}")
        for label in ("max_rows", "sample_size"):
            value = getattr(self, label)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ConfigError(f"{label} must be a positive integer, got {value!r}")
        if self.sample_size is not None and self.max_rows is None:
            self.max_rows = self.sample_size
        if self.max_rows is not None and self.sample_size is not None and self.sample_size > self.max_rows:
            raise ConfigError(f"sample_size={self.sample_size} is larger than max_rows={self.max_rows}",
                              hint="sample_size is how many rows to keep when a table exceeds max_rows")
        if self.strategy == "stratified" and not self.stratify_by:
            raise ConfigError("sampling_strategy='stratified' needs stratify_by",
                              hint="stratify_by='column' (every table having it) or {'table': 'column'}")

    @property
    def active(self) -> bool:
        return self.max_rows is not None

    @property
    def target(self) -> int:
        assert self.max_rows is not None
        return self.sample_size or self.max_rows

    def column_for(self, table: str, columns: list[str]) -> str | None:
        """The stratification column for ``table`` (``None``: sample it uniformly)."""
        if self.strategy != "stratified":
            return None
        if isinstance(self.stratify_by, str):
            return self.stratify_by if self.stratify_by in columns else None
        return dict(self.stratify_by or {}).get(table)


@dataclass
class SubsetReport:
    """What sampling did, per table: rows before and after, and how."""

    tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    def note(self, table: str, before: int, after: int | None, how: str) -> None:
        self.tables[table] = {"rows": before, "kept": after, "how": how}


# -- one table -------------------------------------------------------------------------------------
def sample_rows(df: DataFrame, n: int, *, count: int, seed: int, column: str | None = None,
                table: str = "table") -> DataFrame:
    """Exactly ``n`` rows of ``df`` (all of them when it has fewer), uniformly or stratified by ``column``."""
    from pyspark.sql import functions as F

    if n >= count:
        return df
    if column is None:
        frac = _oversample(n, count)
        r = F.rand(seed)
        return (df.withColumn(_RAND, r).where(F.col(_RAND) < frac).orderBy(_RAND).limit(n)
                .drop(_RAND))
    return _stratified(df, n, count=count, seed=seed, column=column, table=table)


def _oversample(n: int, count: int) -> float:
    """Bernoulli fraction that yields at least ``n`` of ``count`` rows except with negligible odds."""
    return min(1.0, (n + 6 * math.sqrt(n) + 20) / count)


def _stratified(df: DataFrame, n: int, *, count: int, seed: int, column: str, table: str) -> DataFrame:
    """Proportional allocation: stratum ``s`` keeps ``max(1, round(n * n_s / count))`` rows.

    ``sampleBy`` first thins every stratum in Spark (so the ranking below touches few rows), then a
    random rank per stratum keeps exactly the allocated number.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if column not in df.columns:
        raise ConfigError(f"stratify_by names column {column!r}, which table {table!r} does not have",
                          hint=f"columns: {', '.join(df.columns)}")
    keyed = df.withColumn(_STRATUM, F.coalesce(F.col(f"`{column}`").cast("string"), F.lit(_NULL_STRATUM)))
    sizes = keyed.groupBy(_STRATUM).count().limit(MAX_STRATA + 1).collect()
    if len(sizes) > MAX_STRATA:
        raise ConfigError(f"stratify_by column {column!r} of table {table!r} has more than {MAX_STRATA} "
                          "distinct values", hint="stratify by a categorical column with fewer values")
    size = {row[0]: int(row[1]) for row in sizes}
    quota = {s: min(m, max(1, round(n * m / count))) for s, m in size.items()}
    fractions = {s: _oversample(k, size[s]) for s, k in quota.items()}
    thinned = keyed.sampleBy(_STRATUM, fractions=fractions, seed=seed)
    spark = df.sparkSession
    quotas = spark.createDataFrame([(s, int(k)) for s, k in quota.items()],
                                   schema=f"{_STRATUM} string, __hiveframe_quota long")
    window = Window.partitionBy(_STRATUM).orderBy(_RAND)
    ranked = (thinned.withColumn(_RAND, F.rand(seed + 1))
              .withColumn(_RANK, F.row_number().over(window))
              .join(F.broadcast(quotas), on=_STRATUM)
              .where(F.col(_RANK) <= F.col("__hiveframe_quota")))
    return ranked.select(*[F.col(f"`{c}`") for c in df.columns])


# -- several related tables ------------------------------------------------------------------------
def subset(frames: Mapping[str, DataFrame], plan: SamplingPlan, *, metadata: Metadata | None = None
           ) -> tuple[dict[str, DataFrame], SubsetReport]:
    """Shrink ``frames`` to the plan's budget; with ``metadata``, keep every foreign key resolvable."""
    report = SubsetReport()
    frames = dict(frames)
    if not plan.active:
        return frames, report
    _check_stratify(frames, plan, metadata)
    counts = {name: df.count() for name, df in frames.items()}
    fks = _foreign_keys(metadata, frames) if metadata is not None else []
    related = {t for fk in fks for t in (fk.child_table, fk.parent_table)}
    out: dict[str, DataFrame] = {}
    for index, (name, df) in enumerate(frames.items()):
        if name in related:
            continue
        if counts[name] > plan.max_rows:  # type: ignore[operator]
            column = plan.column_for(name, df.columns)
            out[name] = _materialize(sample_rows(df, plan.target, count=counts[name], seed=plan.seed + index,
                                                 column=column, table=name))
            report.note(name, counts[name], plan.target, "stratified by " + column if column else "uniform")
        else:
            out[name] = df
            report.note(name, counts[name], counts[name], "kept")
    if related:
        assert metadata is not None
        out.update(_relational(frames, counts, fks, metadata, plan, report))
    over = [n for n in frames if n not in related and counts[n] > plan.max_rows]  # type: ignore[operator]
    if over and len(frames) > 1 and metadata is None:
        log.warning("tables %s were sampled independently; pass metadata to keep their foreign keys intact",
                    ", ".join(over))
    return {name: out[name] for name in frames}, report


def _check_stratify(frames: Mapping[str, DataFrame], plan: SamplingPlan, metadata: Metadata | None) -> None:
    if plan.strategy != "stratified":
        return
    if isinstance(plan.stratify_by, str):
        if not any(plan.stratify_by in df.columns for df in frames.values()):
            raise ConfigError(f"stratify_by column {plan.stratify_by!r} is in none of the tables",
                              hint="tables: " + ", ".join(frames))
        return
    for table, column in dict(plan.stratify_by or {}).items():
        if table not in frames:
            raise ConfigError(f"stratify_by names table {table!r}, which is not being read",
                              hint="tables: " + ", ".join(frames))
        if column not in frames[table].columns:
            raise ConfigError(f"stratify_by names column {column!r}, which table {table!r} does not have",
                              hint=f"columns: {', '.join(frames[table].columns)}")


def _foreign_keys(metadata: Metadata, frames: Mapping[str, DataFrame]) -> list[ForeignKey]:
    return [fk for fk in metadata.foreign_keys if fk.child_table in frames and fk.parent_table in frames]


def driver_of(metadata: Metadata, table: str, fks: list[ForeignKey], *, counts: Mapping[str, int] | None = None,
              unique: Mapping[str, bool] | None = None) -> ForeignKey | None:
    """The foreign key whose parent 'generates' this table's rows, chosen as the relational engine does.

    ``Table.driver`` wins. Otherwise a key that is not a 1:1 link (``one_to_one``, or child values all
    distinct per ``unique``), then the parent with the most rows (the most specific entity).
    """
    own = [fk for fk in fks if fk.child_table == table and not fk.is_self_reference]
    if not own:
        return None
    wanted = metadata.table(table).driver if metadata.has_table(table) else None
    if wanted is not None:
        for fk in own:
            if wanted in (fk.child_columns[0], fk.name, ",".join(fk.child_columns)):
                return fk
    unique = unique or {}
    pool = [fk for fk in own if not fk.one_to_one and not unique.get(fk.name, False)] or own
    counts = counts or {}
    return max(pool, key=lambda fk: (counts.get(fk.parent_table, 0), -own.index(fk)))


def _unique_references(frames: Mapping[str, DataFrame], fks: list[ForeignKey]) -> dict[str, bool]:
    """For tables with several parents: whether each foreign key's values are all distinct (1:1 links)."""
    from pyspark.sql import functions as F

    out: dict[str, bool] = {}
    by_child: dict[str, list[ForeignKey]] = {}
    for fk in fks:
        if not fk.is_self_reference:
            by_child.setdefault(fk.child_table, []).append(fk)
    for child, own in by_child.items():
        if len(own) < 2:
            continue
        aggs = []
        for i, fk in enumerate(own):
            cols = [F.col(f"`{c}`") for c in fk.child_columns]
            aggs += [F.count(F.struct(*cols)).alias(f"n{i}"), F.count_distinct(*cols).alias(f"d{i}")]
        row = frames[child].agg(*aggs).first()
        for i, fk in enumerate(own):
            out[fk.name] = row[f"n{i}"] == row[f"d{i}"]
    return out


def _relational(frames: Mapping[str, DataFrame], counts: Mapping[str, int], fks: list[ForeignKey],
                metadata: Metadata, plan: SamplingPlan, report: SubsetReport) -> dict[str, DataFrame]:
    from pyspark.sql import functions as F

    names = {t for fk in fks for t in (fk.child_table, fk.parent_table)}
    order = [t for t in metadata.topological_order() if t in names]
    unique = _unique_references(frames, fks)
    drivers = {t: driver_of(metadata, t, fks, counts=counts, unique=unique) for t in order}
    root_of: dict[str, str] = {}
    for t in order:
        d = drivers[t]
        root_of[t] = t if d is None else root_of[d.parent_table]
    trees: dict[str, list[str]] = {}
    for t in order:
        trees.setdefault(root_of[t], []).append(t)
    if isinstance(plan.stratify_by, Mapping) and plan.strategy == "stratified":
        for t in plan.stratify_by:
            if t in root_of and root_of[t] != t:
                raise ConfigError(
                    f"stratify_by names table {t!r}, whose rows follow their {drivers[t].parent_table!r} "  # type: ignore[union-attr]
                    "parents when related tables are subset",
                    hint=f"stratify its root table {root_of[t]!r} instead, or read without metadata",
                )
    target = plan.target
    kept: dict[str, DataFrame] = {}
    how: dict[str, str] = {}
    for root, members in trees.items():
        fraction = min([1.0] + [target / counts[t] for t in members if counts[t] > plan.max_rows])  # type: ignore[operator]
        if fraction >= 1.0:
            for t in members:
                kept[t], how[t] = frames[t], "kept"
            continue
        n_root = max(1, round(fraction * counts[root]))
        column = plan.column_for(root, frames[root].columns)
        kept[root] = _materialize(sample_rows(frames[root], n_root, count=counts[root],
                                              seed=plan.seed + order.index(root), column=column, table=root))
        how[root] = f"{'stratified by ' + column if column else 'uniform'} root ({fraction:.4f} of rows)"
        for t in members:
            if t == root:
                continue
            d = drivers[t]
            assert d is not None
            keys = kept[d.parent_table].select(
                *[F.col(f"`{p}`").alias(f"__k{i}") for i, p in enumerate(d.parent_columns)]).distinct()
            cond = [F.col(f"`{c}`").eqNullSafe(F.col(f"__k{i}")) for i, c in enumerate(d.child_columns)]
            kept[t] = _materialize(frames[t].join(keys, on=cond, how="left_semi"))
            how[t] = f"children of kept {d.parent_table} rows"
    # upward closure: children first, so rows a table gains are themselves closed when it is reached
    for t in reversed(order):
        for fk in [f for f in fks if f.child_table == t]:
            kept[fk.parent_table] = _close(kept[fk.parent_table], frames[fk.parent_table], kept[t], fk,
                                           table=fk.parent_table)
    for t in order:
        report.note(t, counts[t], counts[t] if how[t] == "kept" else kept[t].count(), how[t])
    return kept


def _close(parent_kept: DataFrame, parent_all: DataFrame, child: DataFrame, fk: ForeignKey, *,
           table: str, max_rounds: int = 64) -> DataFrame:
    """``parent_kept`` plus every row of ``parent_all`` that ``child`` references and it lacks."""
    from pyspark.sql import functions as F

    for _ in range(max_rounds if fk.is_self_reference else 1):
        refs = child.select(*[F.col(f"`{c}`").alias(f"__r{i}") for i, c in enumerate(fk.child_columns)])
        set_ = F.col("__r0").isNotNull()
        for i in range(1, len(fk.child_columns)):  # a composite reference with a null part points nowhere
            set_ = set_ & F.col(f"__r{i}").isNotNull()
        refs = refs.where(set_).distinct()
        have = parent_kept.select(*[F.col(f"`{p}`").alias(f"__r{i}") for i, p in enumerate(fk.parent_columns)])
        missing = refs.join(have, on=[f"__r{i}" for i in range(len(fk.parent_columns))], how="left_anti")
        cond = [F.col(f"`{p}`") == F.col(f"__r{i}") for i, p in enumerate(fk.parent_columns)]
        extra = _materialize(parent_all.join(missing, on=cond, how="left_semi"))
        added = extra.count()
        if not added:
            break
        log.info("table %s: %d row(s) added so that %s resolves", table, added, fk.name)
        parent_kept = _materialize(parent_kept.unionByName(extra))
        if fk.is_self_reference:
            child = extra  # the added rows may point further up the same table
    return parent_kept


def _materialize(df: DataFrame) -> DataFrame:
    """Cut the lineage of a (small, sampled) result so later joins do not recompute or re-randomize it."""
    try:
        return df.localCheckpoint(eager=True)
    except Exception:  # noqa: BLE001 - Spark Connect has no local checkpoints; caching is the next best
        return df.cache()
