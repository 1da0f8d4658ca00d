"""Key detection: primary keys (single-column and composite) and foreign keys (clean or dirty).

Real databases name their keys in many ways (``AlbumId``, ``user_id``, ``SupportRepId``,
``ReportsTo``, ``origin``/``dest``, ``tailnum``) and their foreign keys are not always clean. So
every proposal is scored from independent pieces of evidence, each a number in [0, 1]:

- **primary key** (a column must be unique and non-null, integer or string): its *name* (the
  table's key name, an id-like name), its *shape* (consecutive integers, short codes without
  spaces) and whether other tables *reference* it. Floats, dates and free text are never keys.
- **foreign key** (a child column against a parent key): its *name* (the parent key's name, the
  parent table's name, a role prefix, a role word such as ``rep`` for an employee or ``origin`` for
  an airport, a self-reference word such as ``reports``) and its *values*: how many child rows find
  a parent, and how surprising that is (integers inside a dense parent range prove nothing; many
  distinct codes all found in a parent key do). A child whose values are found up to a small share
  (``max_orphan_share``) is proposed with its orphan count: a *dirty* foreign key.

Evidence combines as a noisy-or, ``1 - prod(1 - e)``, so one strong piece suffices and weak pieces
add up; orphans scale it down. A proposal is kept when its confidence reaches ``threshold``;
the others are reported with their evidence (``Metadata.detection["rejected"]``). Ties between
primary key candidates go to the column other tables reference most, then the better name, then
the leftmost column.

Bounded time: containment is checked on a random sample of at most ``sample_rows`` rows of each
child table (stated in the result); uniqueness and the parents' key sets use every row, since a
key found unique on a sample is no key.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hiveframe.metadata.arrow_types import plain, type_family
from hiveframe.metadata.model import ForeignKey, find_cycle

if TYPE_CHECKING:
    import pyarrow as pa

    from hiveframe.components import Database

log = logging.getLogger("hiveframe.metadata.detect")

#: Key names too generic to link two tables by name alone (``a.id`` is no evidence for ``b.id``).
GENERIC_KEY_NAMES = frozenset({"id", "uuid", "guid", "key", "pk", "code", "name", "no", "number"})
#: Last name tokens of identifier columns.
KEY_TOKENS = frozenset({"id", "uuid", "guid", "key", "pk", "code", "no", "nr", "num", "number", "ref"})
#: Whole names (or last tokens) of natural keys.
NATURAL_KEY_NAMES = frozenset({
    "tailnum", "iata", "icao", "faa", "isbn", "issn", "sku", "ean", "upc", "vin", "email", "username",
    "login", "slug", "symbol", "ticker", "iso", "abbreviation", "abbr", "registration", "callsign",
    "carrier", "handle",
})
#: Words naming a row of the same table (``Employee.ReportsTo``, ``category.parent_id``).
SELF_ROLES = frozenset({
    "reports", "manager", "supervisor", "boss", "superior", "parent", "mentor", "head", "referrer",
    "referred", "sponsor", "predecessor", "successor", "previous", "prev", "next", "replaces",
    "replaced", "spouse", "partner", "duplicate", "merged",
})
#: Role words pointing at a kind of parent: (words in the parent table's name, role words).
ENTITY_ROLES: tuple[tuple[frozenset[str], frozenset[str]], ...] = (
    (frozenset({"employee", "employees", "staff", "user", "users", "person", "persons", "people", "member",
                "members", "agent", "agents", "worker", "workers"}),
     frozenset({"rep", "representative", "agent", "manager", "supervisor", "boss", "reports", "employee",
                "staff", "salesperson", "seller", "clerk", "owner", "author", "creator", "created", "editor",
                "reviewer", "approver", "approved", "assignee", "assigned", "reporter", "mentor", "sponsor",
                "referrer", "referred", "handler", "modified", "updated", "by"})),
    (frozenset({"airport", "airports", "station", "stations", "city", "cities", "location", "locations",
                "port", "ports", "stop", "stops", "node", "nodes", "place", "places", "site", "sites",
                "warehouse", "warehouses", "terminal", "terminals", "hub", "hubs"}),
     frozenset({"origin", "orig", "dest", "destination", "source", "src", "dst", "from", "to", "departure",
                "arrival", "dep", "arr", "pickup", "dropoff", "home", "start", "end", "via"})),
)
#: Evidence weights.
_NAME_SAME_KEY, _NAME_TABLE, _NAME_ROLE_PREFIX, _NAME_TABLE_INSIDE, _NAME_ROLE_WORD = 1.0, 0.9, 0.8, 0.7, 0.6
#: A link found by values alone can reach at most this confidence: codes (strings) rarely land in
#: another table's key by luck, small integers often do.
_VALUES_ONLY = {"string": 0.6, "int": 0.4}


@dataclass(frozen=True)
class KeyOptions:
    """Thresholds of key detection (see the module docstring)."""

    threshold: float = 0.5
    max_orphan_share: float = 0.1
    sample_rows: int = 200_000
    max_composite: int = 3
    seed: int = 0


@dataclass
class Profile:
    """What key detection needs to know about one column."""

    table: str
    name: str
    position: int
    family: str  # "int", "string" or "" (not a key type)
    rows: int
    nulls: int
    unique: bool  # unique and non-null over every row
    distinct: Any = None  # pyarrow array of the distinct non-null values (int64 or large_string)
    sample: Any = None  # pyarrow array: non-null values of the sampled rows (int64 or large_string)
    sample_rows: int = 0  # rows the sample was drawn from
    key_like: bool = False  # strings: short, no whitespace
    dense: bool = False  # ints: at least half of the range between min and max is used
    text: bool = False  # strings with whitespace: names and sentences, not codes


@dataclass
class Proposal:
    """A key proposal with its evidence; ``confidence`` decides."""

    kind: str  # "primary_key" or "foreign_key"
    table: str
    columns: tuple[str, ...]
    confidence: float
    evidence: list[str]
    parent_table: str = ""
    parent_columns: tuple[str, ...] = ()
    orphans: int = 0
    orphan_share: float = 0.0
    checked_rows: int = 0
    estimated: bool = False
    referenced: int = 0
    name_score: float = 0.0
    alternatives: list[str] = field(default_factory=list)
    reason: str = ""  # why it was rejected
    examples: list[Any] = field(default_factory=list)  # orphan values, for logs only (never written)

    @property
    def label(self) -> str:
        cols = ",".join(self.columns)
        if self.kind == "primary_key":
            return f"{self.table}({cols})"
        return f"{self.table}.{cols} -> {self.parent_table}.{','.join(self.parent_columns)}"

    def detection(self) -> dict[str, Any]:
        """The JSON written beside the key in the metadata file."""
        out: dict[str, Any] = {"confidence": round(self.confidence, 3), "evidence": list(self.evidence)}
        if self.kind == "foreign_key":
            out["orphans"] = self.orphans
            out["orphan_share"] = round(self.orphan_share, 4)
            out["checked_rows"] = self.checked_rows
            if self.estimated:
                out["estimated_from_sample"] = True
        if self.alternatives:
            out["alternatives"] = list(self.alternatives)
        if self.reason:
            out["rejected_because"] = self.reason
        return out


@dataclass
class KeyResult:
    primary_keys: dict[str, tuple[str, ...]]
    primary_key_proposals: dict[str, Proposal]
    foreign_keys: list[tuple[ForeignKey, Proposal]]
    rejected: list[Proposal]
    sampled: dict[str, tuple[int, int]]
    seconds: float

    def summary(self, options: KeyOptions) -> dict[str, Any]:
        """``Metadata.detection``: settings, sampling, time, and the proposals left out."""
        return {
            "threshold": options.threshold,
            "max_orphan_share": options.max_orphan_share,
            "sample_rows": options.sample_rows,
            "sampled": {t: {"checked_rows": k, "rows": n} for t, (k, n) in self.sampled.items()},
            "seconds": round(self.seconds, 3),
            "rejected": [_rejected_json(p) for p in self.rejected],
        }


def _rejected_json(p: Proposal) -> dict[str, Any]:
    if p.kind == "primary_key":
        return {"kind": p.kind, "table": p.table, "columns": list(p.columns), **p.detection()}
    return {"kind": p.kind, "child_table": p.table, "child_columns": list(p.columns),
            "parent_table": p.parent_table, "parent_columns": list(p.parent_columns), **p.detection()}


def noisy_or(*scores: float) -> float:
    """``1 - prod(1 - s)``: one strong piece of evidence suffices, weak ones add up."""
    out = 1.0
    for s in scores:
        out *= 1.0 - max(0.0, min(1.0, s))
    return 1.0 - out


# -- names -----------------------------------------------------------------------------------------
def name_tokens(name: str) -> list[str]:
    """``"InvoiceLineId"`` -> ``["invoice", "line", "id"]``; trailing digits dropped (``atom_id2``)."""
    parts = [p.lower() for p in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)]
    while parts and parts[-1].isdigit():
        parts.pop()
    return parts


def variants(table: str) -> set[str]:
    """The table name normalised, singular and plural (``users`` -> ``users``, ``user``)."""
    base = "".join(name_tokens(table)) or table.lower()
    out = {base, base + "s"}
    if base.endswith("ies"):
        out.add(base[:-3] + "y")
    if base.endswith("es"):
        out.add(base[:-2])
    if base.endswith("s"):
        out.add(base[:-1])
    if base.endswith("y"):
        out.add(base[:-1] + "ies")
    return out


def _table_key_names(table: str) -> set[str]:
    return {v + suffix for v in variants(table) for suffix in ("id", "key", "code", "no", "pk")}


def pk_name_score(table: str, column: str) -> tuple[float, str]:
    """How much a column's name says it is ``table``'s key, and why."""
    toks = name_tokens(column)
    norm = "".join(toks)
    if norm in ("id", "key", "pk") or norm in _table_key_names(table):
        return 1.0, "named as the table's key"
    if toks and (toks[-1] in KEY_TOKENS or toks[-1] in NATURAL_KEY_NAMES or norm in NATURAL_KEY_NAMES):
        return 0.7, "an identifier's name"
    return 0.0, ""


def fk_name_score(child_table: str, column: str, parent_table: str, parent_key: str) -> tuple[float, str]:
    """How much a column's name says it references ``parent_table.parent_key``, and why."""
    ctoks, ptoks = name_tokens(column), name_tokens(parent_key)
    if not ctoks:
        return 0.0, ""
    cnorm, pnorm = "".join(ctoks), "".join(ptoks)
    generic = pnorm in GENERIC_KEY_NAMES
    if not generic and cnorm == pnorm and child_table != parent_table:
        return _NAME_SAME_KEY, "same name as the parent key"
    named = _table_key_names(parent_table) | (variants(parent_table) if child_table != parent_table else set())
    if cnorm in named:
        return _NAME_TABLE, "the parent table's name"
    targets = set(_table_key_names(parent_table))
    if not generic:
        targets.add(pnorm)
    for k in range(1, len(ctoks)):  # role prefixes: sender_account_id, origin_airport_code, atom_id2
        if "".join(ctoks[k:]) in targets:
            return _NAME_ROLE_PREFIX, f"role-named: {'_'.join(ctoks[:k])} + {''.join(ctoks[k:])}"
    table_words = set(name_tokens(parent_table))
    table_forms = variants(parent_table)
    if child_table != parent_table and any(t in table_forms for t in ctoks):
        return _NAME_TABLE_INSIDE, "the parent table's name inside the column's"
    if child_table == parent_table and set(ctoks) & SELF_ROLES:
        return _NAME_ROLE_WORD, f"a self-reference word ({', '.join(sorted(set(ctoks) & SELF_ROLES))})"
    for parents, roles in ENTITY_ROLES:
        if (table_words | table_forms) & parents and set(ctoks) & roles:
            if child_table == parent_table and not set(ctoks) & SELF_ROLES:
                continue
            return _NAME_ROLE_WORD, f"a role word ({', '.join(sorted(set(ctoks) & roles))}) for {parent_table}"
    return 0.0, ""


# -- profiles --------------------------------------------------------------------------------------
def _key_values(array: Any) -> tuple[str, Any]:
    """("int", int64 array) / ("string", large_string array) / ("", None) for other types."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = plain(array)
    fam = type_family(arr.type)
    if fam == "int":
        return "int", pc.cast(arr, pa.int64())
    if fam == "string":
        return "string", pc.cast(arr, pa.large_string())
    if fam == "float":
        values = arr.drop_null()
        values = values.filter(pc.invert(pc.is_nan(values)))
        if len(values) and bool(pc.all(pc.equal(values, pc.floor(values))).as_py()):
            try:  # integers read as floats (pandas, nulls): comparable to integer keys
                return "int", pc.cast(arr, pa.int64())
            except pa.ArrowInvalid:
                return "", None
    return "", None


def profile_table(name: str, data: pa.Table, options: KeyOptions, rows: Any) -> list[Profile]:
    """Profiles of every column; ``rows`` (or ``None``) are the sampled row positions."""
    import pyarrow.compute as pc

    out = []
    for position, col in enumerate(data.column_names):
        raw = data.column(col)
        fam, values = _key_values(raw)
        n = data.num_rows
        nulls = raw.null_count if values is None else values.null_count
        if fam == "string" and values is not None:
            nulls += int(pc.sum(pc.equal(pc.utf8_length(values), 0)).as_py() or 0)
        prof = Profile(table=name, name=col, position=position, family=fam, rows=n, nulls=nulls, unique=False)
        if values is None or n == 0 or nulls == n:
            out.append(prof)
            continue
        non_null = values.drop_null()
        distinct = pc.unique(non_null)
        prof.distinct = distinct
        prof.unique = nulls == 0 and len(distinct) == n
        sampled = values if rows is None else values.take(rows)
        prof.sample = sampled.drop_null()
        prof.sample_rows = len(sampled)
        if fam == "string":
            lengths = pc.utf8_length(distinct)
            spaces = pc.any(pc.match_substring_regex(distinct, r"\s")).as_py()
            prof.text = bool(spaces)
            prof.key_like = (not spaces) and (pc.max(lengths).as_py() or 0) <= 40 and (pc.min(lengths).as_py() or 0) > 0
        else:
            mm = pc.min_max(distinct)
            span = mm["max"].as_py() - mm["min"].as_py() + 1
            prof.dense = len(distinct) >= 0.5 * span
        out.append(prof)
    return out


# -- primary keys ----------------------------------------------------------------------------------
def primary_key_candidates(table: str, profiles: Sequence[Profile]) -> list[Proposal]:
    """Every unique, non-null integer or string column, scored by name and shape (not yet references)."""
    unique = [p for p in profiles if p.family and p.unique]
    every_unique = len(unique) >= 2 and len(unique) == len(profiles)
    out = []
    for p in unique:
        name, why = pk_name_score(table, p.name)
        evidence = [f"unique and non-null in {p.rows} rows"]
        if why:
            evidence.append(f"name: {why}")
        if p.family == "int":
            shape = 0.4 if p.dense else 0.15
            evidence.append("consecutive integers" if p.dense else "sparse integers")
        elif p.text:
            if name < 1.0:
                continue  # names and sentences are unique by nature, not keys
            shape = 0.0
            evidence.append("text with spaces")
        else:
            shape = 0.4 if p.key_like else 0.1
            evidence.append("short codes without spaces" if p.key_like else "long strings")
        if p.rows < 10 or every_unique:  # uniqueness among a handful of rows proves little
            shape *= 0.6
            evidence.append("every column is unique" if every_unique else f"only {p.rows} rows")
        prop = Proposal("primary_key", table, (p.name,), noisy_or(name, shape), evidence, name_score=name)
        out.append(prop)
    return out


def choose_primary_key(candidates: list[Proposal], options: KeyOptions) -> Proposal | None:
    """The best candidate at or above the threshold (ties: most referenced, better name, leftmost)."""
    if not candidates:
        return None
    ranked = sorted(candidates, key=lambda c: (-round(c.confidence, 6), -c.referenced, -c.name_score))
    best = ranked[0]
    ties = [c for c in ranked[1:] if round(c.confidence, 6) == round(best.confidence, 6)
            and c.referenced == best.referenced and c.name_score == best.name_score]
    best.alternatives = [f"{','.join(c.columns)} ({c.confidence:.2f})" for c in ranked[1:4]
                         if c.confidence >= options.threshold / 2]
    if ties:
        best.evidence.append(f"tie with {', '.join(','.join(t.columns) for t in ties)}: the leftmost column wins")
    if best.confidence + 1e-9 < options.threshold:
        best.reason = f"confidence {best.confidence:.2f} is below the threshold {options.threshold}"
        return None
    return best


# -- foreign keys ----------------------------------------------------------------------------------
@dataclass
class _Containment:
    rows: int  # non-null sampled child rows
    found_rows: int
    distinct: int
    found_distinct: int
    chance: float  # how likely one distinct child value falls in the parent key by luck


def containment(child: Profile, parent: Profile) -> _Containment | None:
    import pyarrow.compute as pc

    if child.sample is None or parent.distinct is None or child.family != parent.family:
        return None
    found = pc.is_in(child.sample, value_set=parent.distinct)
    found_rows = int(pc.sum(found).as_py() or 0)
    cdist = child.distinct if child.sample_rows == child.rows else pc.unique(child.sample)
    dfound = pc.is_in(cdist, value_set=parent.distinct)
    found_distinct = int(pc.sum(dfound).as_py() or 0)
    chance = 0.02  # strings: a code is rarely another table's key by luck
    if child.family == "int" and found_distinct:
        inside = cdist.filter(dfound)
        mm = pc.min_max(inside)
        lo, hi = mm["min"].as_py(), mm["max"].as_py()
        in_range = pc.and_(pc.greater_equal(parent.distinct, lo), pc.less_equal(parent.distinct, hi))
        chance = min(1.0, int(pc.sum(in_range).as_py() or 0) / (hi - lo + 1))
    return _Containment(len(child.sample), found_rows, len(cdist), found_distinct, chance)


def score_foreign_key(child: Profile, parent: Profile, options: KeyOptions) -> Proposal | None:
    """A proposal ``child -> parent`` (``None`` when nothing points there)."""
    name, why = fk_name_score(child.table, child.name, parent.table, parent.name)
    if child.unique and child.table != parent.table and name < _NAME_ROLE_PREFIX:
        return None  # a table's own unique column refers elsewhere only when its name says so
    c = containment(child, parent)
    if c is None or c.rows == 0 or c.found_rows == 0:
        return None
    share = c.found_rows / c.rows
    orphan_share = 1.0 - share
    # how surprising the containment is: distinct values found in the parent key, against luck
    k = c.found_distinct
    values = (1.0 - c.chance ** k) * (1.0 - 0.5 ** k) * share
    evidence = []
    if why:
        evidence.append(f"name: {why}")
    evidence.append(f"values: {c.found_distinct} of {c.distinct} distinct values found in "
                    f"{parent.table}.{parent.name}" + (f" ({c.chance:.0%} of that range is keys)"
                                                       if child.family == "int" else ""))
    value_weight = 1.0 if name else _VALUES_ONLY[child.family]
    confidence = noisy_or(name, values * value_weight) * (1.0 - orphan_share) ** 2
    scale = child.rows / max(1, child.sample_rows)
    orphans = int(round((c.rows - c.found_rows) * scale))
    examples: list[Any] = []
    if orphans:
        evidence.append(f"dirty: {orphans} orphan row(s), {orphan_share:.1%} of the rows with a value")
        import pyarrow.compute as pc

        missing = child.sample.filter(pc.invert(pc.is_in(child.sample, value_set=parent.distinct)))
        examples = pc.unique(missing).slice(0, 5).to_pylist()
    return Proposal("foreign_key", child.table, (child.name,), confidence, evidence,
                    parent_table=parent.table, parent_columns=(parent.name,), orphans=orphans,
                    orphan_share=orphan_share, checked_rows=c.rows, estimated=scale > 1, name_score=name,
                    examples=examples)


def _acceptable(p: Proposal, options: KeyOptions) -> str:
    """Why a foreign key proposal is left out ("" if it is kept)."""
    if p.orphan_share > options.max_orphan_share:
        return (f"{p.orphan_share:.1%} of the rows have no parent (more than max_orphan_share "
                f"{options.max_orphan_share:.0%})")
    if p.confidence + 1e-9 < options.threshold:
        return f"confidence {p.confidence:.2f} is below the threshold {options.threshold}"
    return ""


# -- composite keys --------------------------------------------------------------------------------
def composite_primary_key(table: str, data: pa.Table, profiles: Sequence[Profile], fk_columns: set[str],
                          options: KeyOptions) -> Proposal | None:
    """A minimal unique non-null column set, preferring columns that are also foreign keys."""
    from hiveframe.metadata.relations import has_duplicates

    by_name = {p.name: p for p in profiles}
    parts = [p.name for p in profiles if p.name in fk_columns]
    parts += [p.name for p in profiles if p.family and p.name not in fk_columns and pk_name_score(table, p.name)[0]]
    if fk_columns:  # a time stamp completes a key only beside a foreign key (station, hour)
        parts += [c for c in data.column_names if type_family(data.column(c).type) == "temporal" and c not in parts]
    parts = [c for c in parts if data.column(c).null_count == 0 and not (by_name.get(c) and by_name[c].unique)]
    parts = parts[:12]
    for size in range(2, min(options.max_composite, len(parts)) + 1):
        combos = sorted(itertools.combinations(parts, size),
                        key=lambda cs: (-sum(c in fk_columns for c in cs), [data.column_names.index(c) for c in cs]))
        temporal = {c for c in parts if type_family(data.column(c).type) == "temporal"}
        for cols in combos:
            if not any(c in fk_columns for c in cols) and any(c in temporal for c in cols):
                continue
            if has_duplicates(data, list(cols)):
                continue
            n_fk = sum(c in fk_columns for c in cols)
            confidence = 0.9 if n_fk == size else 0.7 if n_fk else 0.5
            ordered = tuple(c for c in data.column_names if c in cols)
            evidence = [f"the columns together are unique and non-null in {data.num_rows} rows",
                        f"{n_fk} of {size} are foreign keys", "no single column is a key"]
            return Proposal("primary_key", table, ordered, confidence, evidence)
    return None


def composite_foreign_keys(db: Database, primary_keys: Mapping[str, tuple[str, ...]], taken: set[tuple[str, str]],
                           options: KeyOptions) -> list[Proposal]:
    """Child column sets named like a parent's composite key whose value tuples are found in it."""
    from hiveframe.metadata.relations import orphan_rows

    out = []
    for parent, pk in primary_keys.items():
        if len(pk) < 2:
            continue
        for child, data in db.tables.items():
            if child == parent or not all(c in data.column_names for c in pk) or all((child, c) in taken for c in pk):
                continue
            fk = ForeignKey(child, tuple(pk), parent, tuple(pk))
            try:
                rows, _ = orphan_rows(fk, data, db.tables[parent])
            except Exception:  # noqa: BLE001 - incomparable types: no link
                continue
            valid = data.num_rows - max(data.column(c).null_count for c in pk)
            if valid == 0:
                continue
            share = len(rows) / valid
            confidence = (1.0 - share) ** 2
            evidence = ["name: same names as the parent's composite key",
                        f"values: {valid - len(rows)} of {valid} rows find their ({', '.join(pk)}) in {parent}"]
            out.append(Proposal("foreign_key", child, tuple(pk), confidence, evidence, parent_table=parent,
                                parent_columns=tuple(pk), orphans=len(rows), orphan_share=share,
                                checked_rows=valid, name_score=1.0))
    return out


# -- the whole database ----------------------------------------------------------------------------
def detect_keys(db: Database, *, options: KeyOptions, declared_pks: Mapping[str, tuple[str, ...]],
                infer_primary_keys: bool, infer_foreign_keys: bool,
                declared_fks: Sequence[ForeignKey]) -> KeyResult:
    """Primary and foreign keys of ``db``: declared ones kept, the rest inferred with evidence."""
    import numpy as np

    start = time.perf_counter()
    rng = np.random.default_rng(options.seed)
    profiles: dict[str, list[Profile]] = {}
    sampled: dict[str, tuple[int, int]] = {}
    for name, data in db.tables.items():
        rows = None
        if data.num_rows > options.sample_rows:
            rows = np.sort(rng.choice(data.num_rows, size=options.sample_rows, replace=False))
            sampled[name] = (options.sample_rows, data.num_rows)
            log.info("detect: table %s has %d rows; containment is checked on a sample of %d",
                     name, data.num_rows, options.sample_rows)
        profiles[name] = profile_table(name, data, options, rows)
    by_column = {(p.table, p.name): p for ps in profiles.values() for p in ps}

    # 1. primary key candidates, then what references them (the same scoring as foreign keys)
    candidates: dict[str, list[Proposal]] = {}
    for name in db.tables:
        if declared_pks.get(name) or not infer_primary_keys:
            continue
        candidates[name] = primary_key_candidates(name, profiles[name])
    targets = {(t, c.columns[0]) for t, cs in candidates.items() for c in cs}
    targets |= {(t, pk[0]) for t, pk in declared_pks.items() if len(pk) == 1 and (t, pk[0]) in by_column}
    scored: list[Proposal] = []
    if infer_foreign_keys or any(candidates.values()):  # references are evidence for undeclared keys
        for child in profiles.values():
            for cprof in child:
                if not cprof.family or cprof.distinct is None:
                    continue
                for ptable, pcol in targets:
                    if (ptable, pcol) == (cprof.table, cprof.name):
                        continue
                    prop = score_foreign_key(cprof, by_column[(ptable, pcol)], options)
                    if prop is not None:
                        scored.append(prop)
    referenced: dict[tuple[str, str], list[str]] = {}
    for prop in scored:
        if not _acceptable(prop, options) and prop.table != prop.parent_table:
            referenced.setdefault((prop.parent_table, prop.parent_columns[0]), []).append(
                f"{prop.table}.{prop.columns[0]}")
    primary_keys: dict[str, tuple[str, ...]] = dict(declared_pks)
    pk_props: dict[str, Proposal] = {}
    rejected: list[Proposal] = []
    for name, cands in candidates.items():
        for cand in cands:
            refs = referenced.get((name, cand.columns[0]), [])
            cand.referenced = len(refs)
            if refs:
                cand.evidence.append(f"referenced by {', '.join(refs[:3])}" + (" ..." if len(refs) > 3 else ""))
                cand.confidence = noisy_or(cand.confidence, 0.8)
        best = choose_primary_key(cands, options)
        if best is not None:
            primary_keys[name] = best.columns
            pk_props[name] = best
        elif cands:
            top = max(cands, key=lambda c: c.confidence)
            top.reason = top.reason or f"confidence {top.confidence:.2f} is below the threshold {options.threshold}"
            rejected.append(top)

    # 2. foreign keys to the chosen single-column keys: the best parent per child column
    fks: list[tuple[ForeignKey, Proposal]] = []
    taken = {(fk.child_table, c) for fk in declared_fks for c in fk.child_columns}
    deps: dict[str, set[str]] = {t: set() for t in db.tables}
    for fk in declared_fks:
        if not fk.is_self_reference:
            deps[fk.child_table].add(fk.parent_table)
    accepted: list[Proposal] = []
    if infer_foreign_keys:
        chosen = {(t, pk[0]) for t, pk in primary_keys.items() if len(pk) == 1}
        per_column: dict[tuple[str, str], list[Proposal]] = {}
        for prop in scored:
            if (prop.parent_table, prop.parent_columns[0]) in chosen and (prop.table, prop.columns[0]) not in taken:
                per_column.setdefault((prop.table, prop.columns[0]), []).append(prop)
        for props in per_column.values():
            props.sort(key=lambda p: (-p.confidence, p.orphan_share))
            ok = [p for p in props if not _acceptable(p, options)]
            if ok:
                best = ok[0]
                best.alternatives = [f"{p.parent_table}.{p.parent_columns[0]} ({p.confidence:.2f})"
                                     for p in props if p is not best and p.confidence >= options.threshold / 2][:3]
                accepted.append(best)
            else:
                best = props[0]
                if best.name_score or best.confidence >= options.threshold / 2:
                    best.reason = _acceptable(best, options)
                    rejected.append(best)
                    _log_near_miss(best)
    # composite keys for tables still without one (from their foreign keys), then composite foreign keys
    fk_cols: dict[str, set[str]] = {}
    for p in accepted:
        fk_cols.setdefault(p.table, set()).add(p.columns[0])
    for fk in declared_fks:
        fk_cols.setdefault(fk.child_table, set()).update(fk.child_columns)
    if infer_primary_keys:
        for name, data in db.tables.items():
            if primary_keys.get(name) or data.num_rows == 0:
                continue
            comp = composite_primary_key(name, data, profiles[name], fk_cols.get(name, set()), options)
            if comp is not None and comp.confidence >= options.threshold:
                primary_keys[name] = comp.columns
                pk_props[name] = comp
    if infer_foreign_keys:
        used = {(p.table, c) for p in accepted for c in p.columns} | taken
        for prop in composite_foreign_keys(db, primary_keys, taken, options):
            if _acceptable(prop, options):
                continue
            overlap = [c for c in prop.columns if (prop.table, c) in used]
            if overlap:  # one column filled from two parents cannot stay intact on both
                prop.reason = f"its column(s) {', '.join(overlap)} already belong to another foreign key"
                rejected.append(prop)
                continue
            accepted.append(prop)
        # strongest first; a link that would close a cycle through several tables is left out
        accepted.sort(key=lambda p: (-p.confidence, p.table, p.columns))
        for prop in accepted:
            if prop.table != prop.parent_table:
                deps[prop.table].add(prop.parent_table)
                cycle = find_cycle(deps)
                if cycle:
                    deps[prop.table].discard(prop.parent_table)
                    prop.reason = "it would close a cycle of foreign keys: " + " -> ".join(cycle)
                    rejected.append(prop)
                    log.info("detect: %s would close a cycle (%s); not linked", prop.label, " -> ".join(cycle))
                    continue
            fk = ForeignKey(child_table=prop.table, child_columns=prop.columns, parent_table=prop.parent_table,
                            parent_columns=prop.parent_columns, detection=prop.detection())
            fks.append((fk, prop))
            log.debug("detect: foreign key %s (confidence %.2f)", prop.label, prop.confidence)
    for prop in pk_props.values():
        log.debug("detect: primary key %s (confidence %.2f)", prop.label, prop.confidence)
    order = {name: i for i, name in enumerate(db.tables)}
    fks.sort(key=lambda f: (order[f[0].child_table], db.tables[f[0].child_table].column_names.index(
        f[0].child_columns[0])))
    return KeyResult(primary_keys, pk_props, fks, rejected, sampled, time.perf_counter() - start)


def _log_near_miss(p: Proposal) -> None:
    level = logging.WARNING if p.name_score and p.orphan_share < 0.5 else logging.INFO
    missing = f"; {p.checked_rows - round(p.checked_rows * (1 - p.orphan_share))} of {p.checked_rows} values have " \
        f"no parent (e.g. {p.examples})" if p.orphans else ""
    log.log(level, "detect: %s.%s looks like a foreign key to %s.%s but %s%s; not linked (add it to the metadata "
            "with an orphan policy, or fit --orphans drop|null|keep)",
            p.table, p.columns[0], p.parent_table, p.parent_columns[0], p.reason, missing)
