"""Columns unique in the real table stay unique across partitions, as they do in one local sample.

Why: every partition runs the relational engine on its own, which makes a unique column (a lookup
table's names, a record's title) unique within the partition only: real values first, then new ones
in their style (:mod:`hiveframe.pipeline.unique`). Two partitions draw from the same real values
and the same style model, so a name repeats across them ("UB40" in partitions 0 and 2).

How, in Spark and without collecting the column to the driver:

1. The first copy of each value (lowest partition, then position) keeps it; the others are repeats.
   Only per-partition counts of repeats reach the driver, and the real values that no partition used
   (at most :data:`hiveframe.pipeline.unique.MAX_VALUES` of them).
2. Repeats are numbered across partitions (partition by partition, by position) and take the unused
   real values in a seeded order, as the local engine does; the rest get new values from the style
   model, drawn on the executors with a seed per partition.
3. New values from two partitions can meet, or meet a value already there: the check runs again and
   only the later copies are drawn again, values that were kept from the start always win. After a
   few rounds a repeat takes its value plus a number (``"Rock 17"``), numbered across partitions so
   those never meet each other.

Same model, seed and partition count: the same values.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from hiveframe.errors import PluginError
from hiveframe_spark.sampling import PART, POS

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from hiveframe.pipeline.unique import StyleModel

log = logging.getLogger(__name__)

VALUE = "__hf_value"
REDRAWN = "__hf_redrawn"
#: rounds that draw in the real values' style; later rounds number the repeats instead
STYLE_ROUNDS = 3
MAX_ROUNDS = 12

_STYLES: dict[str, StyleModel] = {}  # per Python worker: pool digest -> style model (built once per worker)


def pool_digest(pool: Sequence[str]) -> str:
    """A short name for a pool of real values (the executors' cache key for its style model)."""
    return hashlib.sha256("\x00".join(pool).encode()).hexdigest()[:16]


def _style(pool: Sequence[str], digest: str) -> StyleModel:
    from hiveframe.pipeline.unique import StyleModel

    if digest not in _STYLES:
        _STYLES.clear()  # one column's model at a time per worker
        _STYLES[digest] = StyleModel(pool)
    return _STYLES[digest]


def fill_batches(batches: Iterator[pa.RecordBatch], *, pool: Sequence[str], digest: str, unused: Sequence[str],
                 offsets: Mapping[int, int], seed: int, round_: int, numbered_from: int | None
                 ) -> Iterator[pa.RecordBatch]:
    """New values for repeats ``(part, pos, value)``, which arrive sorted by partition and position.

    Repeat ``g`` (numbered across partitions: ``offsets[part]`` plus its rank in the partition) takes
    ``unused[g]``; past those, a value drawn in the pool's style from a generator seeded by
    ``(seed, round, part)``, none in the pool or drawn before in the partition; or, when
    ``numbered_from`` is set, its value with the number ``numbered_from + g``.
    """
    import numpy as np
    import pyarrow as pa

    from hiveframe.pipeline.plan import derive_seed

    state: dict[int, tuple[np.random.Generator, set[str], list[int]]] = {}
    for batch in batches:
        parts = batch.column(0).to_pylist()
        values = batch.column(2).to_pylist()
        out: list[str] = []
        for part, value in zip(parts, values, strict=True):
            if part not in state:
                state[part] = (np.random.default_rng(derive_seed(seed, "unique", round_, part)), set(pool), [0])
            rng, taken, rank = state[part]
            g = offsets[part] + rank[0]
            rank[0] += 1
            if g < len(unused):
                out.append(unused[g])
            elif numbered_from is not None:
                out.append(f"{value} {numbered_from + g}")
            else:
                out.extend(_style(pool, digest).new_values(1, taken, rng))
        yield pa.RecordBatch.from_arrays([batch.column(0), batch.column(1), pa.array(out, pa.string())],
                                         names=[PART, POS, VALUE])


def keep_unique(spark: SparkSession, frame: DataFrame, column: str, pool: Sequence[str], *, seed: int,
                partitions: int, cached: list[DataFrame]) -> DataFrame:
    """``frame`` (with ``PART`` and ``POS``) with ``column``'s repeats across partitions replaced.

    ``pool``: the column's real values, from the fitted plan; ``partitions``: the sampling partitions.
    The replacements stay persisted in ``cached``; the caller unpersists them once the table is written.
    """
    import numpy as np
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType

    from hiveframe.pipeline.plan import derive_seed

    schema = StructType([StructField(PART, IntegerType()), StructField(POS, LongType()),
                         StructField(VALUE, StringType())])
    current = (frame.where(F.col(f"`{column}`").isNotNull())
               .select(F.col(PART).cast("int").alias(PART), F.col(POS),
                       F.col(f"`{column}`").cast("string").alias(VALUE), F.lit(False).alias(REDRAWN))
               .persist(StorageLevel.MEMORY_AND_DISK))
    temporary = [current]
    digest = pool_digest(pool)
    redrawn, numbered = 0, 2
    for round_ in range(MAX_ROUNDS):
        first = Window.partitionBy(VALUE).orderBy(REDRAWN, PART, POS)  # kept values win, then the earliest
        repeats = (current.withColumn("__hf_rank", F.row_number().over(first)).where(F.col("__hf_rank") > 1)
                   .select(PART, POS, VALUE).persist(StorageLevel.MEMORY_AND_DISK))
        temporary.append(repeats)
        counts = {int(r[PART]): int(r["count"]) for r in repeats.groupBy(PART).count().collect()}
        if not counts:
            break
        total = sum(counts.values())
        redrawn += total if round_ == 0 else 0
        offsets, acc = {}, 0
        for part in sorted(counts):
            offsets[part] = acc
            acc += counts[part]
        unused: list[str] = []
        if round_ == 0:  # real values no partition drew, in a seeded order (at most the pool's size)
            present = current.select(VALUE).distinct()
            real = spark.createDataFrame([(v,) for v in pool], StructType([StructField(VALUE, StringType())]))
            left = sorted(r[VALUE] for r in real.join(present, on=VALUE, how="left_anti").collect())
            order = np.random.default_rng(derive_seed(seed, "unique", "pool")).permutation(len(left))
            unused = [left[i] for i in order]
        numbered_from = None if round_ < STYLE_ROUNDS else numbered
        numbered += total if round_ >= STYLE_ROUNDS else 0

        def fill(it: Iterator[pa.RecordBatch], unused: list[str] = unused, offsets: dict[int, int] = offsets,
                 round_: int = round_, numbered_from: int | None = numbered_from) -> Iterator[pa.RecordBatch]:
            return fill_batches(it, pool=list(pool), digest=digest, unused=unused, offsets=offsets, seed=seed,
                                round_=round_, numbered_from=numbered_from)

        new = (repeats.repartition(partitions, PART).sortWithinPartitions(PART, POS).mapInArrow(fill, schema)
               .withColumnRenamed(VALUE, "__hf_new"))
        current = (current.join(new, on=[PART, POS], how="left")
                   .select(PART, POS, F.coalesce(F.col("__hf_new"), F.col(VALUE)).alias(VALUE),
                           (F.col(REDRAWN) | F.col("__hf_new").isNotNull()).alias(REDRAWN))
                   .persist(StorageLevel.MEMORY_AND_DISK))
        temporary.append(current)
    else:
        for f in temporary:
            f.unpersist()
        raise PluginError(f"column {column!r} still repeats values across partitions after {MAX_ROUNDS} rounds",
                          plugin="spark", hint="sample with fewer partitions, or report this with the model")
    for f in temporary:  # the last one is materialized (its repeats were counted): it alone is kept
        if f is not current or not redrawn:
            f.unpersist()
    if not redrawn:
        return frame
    cached.append(current)
    log.info("column %s: %d value(s) repeated across partitions replaced (%d check(s))", column, redrawn,
             round_ + 1)
    fixes = current.where(F.col(REDRAWN)).select(PART, POS, F.col(VALUE).alias("__hf_fix"))
    joined = frame.join(fixes, on=[PART, POS], how="left")
    return joined.withColumn(column, F.coalesce(F.col("__hf_fix"), F.col(f"`{column}`"))).drop("__hf_fix")

