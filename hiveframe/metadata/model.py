"""The immutable metadata model: tables, columns, keys, relationships.

Metadata objects are frozen dataclasses. Changing one returns a new object (``with_table``,
``with_column``...), so a fitted model can never drift from the metadata it was trained on, and
nobody has to remember to "save" a mutated object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from hiveframe.errors import MetadataError, Problem, SourceError, did_you_mean

SPEC_VERSION = 1
#: What ``fit`` may do with child rows whose foreign key has no parent.
ORPHAN_POLICIES = ("drop", "null", "keep")


class ColumnKind(str, Enum):
    """What a column means, which decides how it is modelled."""

    NUMERICAL = "numerical"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    ID = "id"
    PII = "pii"
    TEXT = "text"


class PIIKind(str, Enum):
    EMAIL = "email"
    PHONE = "phone"
    PERSON_NAME = "person_name"
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    ADDRESS = "address"
    CITY = "city"
    POSTCODE = "postcode"
    NATIONAL_ID = "national_id"
    CREDIT_CARD = "credit_card"
    IBAN = "iban"
    IP_ADDRESS = "ip_address"
    OTHER = "other"


@dataclass(frozen=True)
class Column:
    """One column.

    ``dtype`` is the Arrow type as a string (``int64``, ``double``, ``string``, ``bool``,
    ``timestamp[us]``, ``date32[day]``): the generated column is cast back to it. ``low``/``high``
    and ``categories`` are optional *public* bounds and domains declared by the user; when present
    they are used instead of values read from the data (this is what makes end-to-end differential
    privacy possible).
    """

    name: str
    kind: ColumnKind
    dtype: str = "string"
    nullable: bool = True
    pii_kind: PIIKind | None = None
    datetime_format: str | None = None
    id_format: str | None = None
    low: float | None = None
    high: float | None = None
    categories: tuple[Any, ...] | None = None

    def arrow_type(self) -> Any:
        """The ``pyarrow.DataType`` that ``dtype`` names (raises ``ValueError`` if it names none)."""
        return parse_arrow_type(self.dtype)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "dtype": self.dtype, "nullable": self.nullable}
        if self.pii_kind is not None:
            out["pii_kind"] = self.pii_kind.value
        for attr in ("datetime_format", "id_format", "low", "high"):
            value = getattr(self, attr)
            if value is not None:
                out[attr] = value
        if self.categories is not None:
            out["categories"] = list(self.categories)
        return out

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> Column:
        cats = data.get("categories")
        pii = data.get("pii_kind")
        return cls(
            name=name,
            kind=ColumnKind(data["kind"]),
            dtype=data.get("dtype", "string"),
            nullable=bool(data.get("nullable", True)),
            pii_kind=PIIKind(pii) if pii is not None else None,
            datetime_format=data.get("datetime_format"),
            id_format=data.get("id_format"),
            low=data.get("low"),
            high=data.get("high"),
            categories=tuple(cats) if cats is not None else None,
        )


@dataclass(frozen=True)
class Table:
    """One table: ordered columns, an optional (possibly composite) primary key, constraints.

    ``driver`` names the foreign key (by its first child column) whose parent generates this
    table's rows when the table has several parents; ``None`` lets the engine choose.
    ``constraints`` are plain dicts (``{"type": "range", "column": ..., "low": ..., "high": ...}``)
    kept here so validators and generators that understand them can use them. ``detection`` is what
    ``detect`` wrote about a primary key it inferred (confidence, evidence, alternatives): a record
    for the reader, ignored by fitting and by equality.
    """

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    driver: str | None = None
    constraints: tuple[Mapping[str, Any], ...] = ()
    detection: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)
    #: the table's generator when the synthesizer is not told one for it: ``{"name": ..., "params": {...}}``
    generator: Mapping[str, Any] | None = None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    def has_column(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)

    def with_constraint(self, rule: Mapping[str, Any]) -> Table:
        """Add a rule (see :mod:`hiveframe.metadata.rules`), e.g. ``rules.formula("total", "a + b")``."""
        return replace(self, constraints=self.constraints + (dict(rule),))

    def with_column(self, column: Column) -> Table:
        """Replace (or append) a column, keeping order."""
        cols = list(self.columns)
        for i, existing in enumerate(cols):
            if existing.name == column.name:
                cols[i] = column
                return replace(self, columns=tuple(cols))
        return replace(self, columns=tuple(cols + [column]))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "columns": {c.name: c.to_dict() for c in self.columns},
            "primary_key": list(self.primary_key),
        }
        if self.driver is not None:
            out["driver"] = self.driver
        if self.constraints:
            out["constraints"] = [dict(c) for c in self.constraints]
        if self.detection is not None:
            out["detection"] = dict(self.detection)
        if self.generator is not None:
            out["generator"] = {"name": self.generator["name"], "params": dict(self.generator.get("params") or {})}
        return out

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> Table:
        pk = data.get("primary_key") or ()
        if isinstance(pk, str):
            pk = (pk,)
        return cls(
            name=name,
            columns=tuple(Column.from_dict(n, c) for n, c in data.get("columns", {}).items()),
            primary_key=tuple(pk),
            driver=data.get("driver"),
            constraints=tuple(dict(c) for c in data.get("constraints", ())),
            detection=dict(data["detection"]) if data.get("detection") is not None else None,
            generator=({"name": data["generator"]["name"], "params": dict(data["generator"].get("params") or {})}
                       if data.get("generator") is not None else None),
        )


@dataclass(frozen=True)
class ForeignKey:
    """A relationship: ``child_table.child_columns`` reference ``parent_table.parent_columns``.

    ``context_columns`` overrides which parent columns condition the child's generator
    (``None``: chosen automatically; ``()``: none). ``one_to_one`` marks a link where every parent
    has at most one child and it must stay so. ``orphans`` is the declared policy for child rows
    whose key has no parent (``"drop"``, ``"null"`` or ``"keep"``; ``None``: such rows are an
    error unless ``fit`` is given a policy). ``detection`` is what ``detect`` wrote about an inferred
    link (confidence, evidence, orphan count): a record for the reader, ignored by equality.
    """

    child_table: str
    child_columns: tuple[str, ...]
    parent_table: str
    parent_columns: tuple[str, ...]
    context_columns: tuple[str, ...] | None = None
    one_to_one: bool = False
    orphans: str | None = None
    detection: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.orphans is not None and self.orphans not in ORPHAN_POLICIES:
            raise MetadataError([Problem(
                f"foreign key {self.name}: unknown orphan policy {self.orphans!r}", table=self.child_table,
                column=",".join(self.child_columns),
                hint="'drop' (leave the rows out), 'null' (set their key to null) or 'keep' (generate "
                     "parent-less rows at the real rate)")])

    @property
    def name(self) -> str:
        return f"{self.child_table}.{','.join(self.child_columns)}->{self.parent_table}"

    @property
    def is_self_reference(self) -> bool:
        return self.child_table == self.parent_table

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "child_table": self.child_table,
            "child_columns": list(self.child_columns),
            "parent_table": self.parent_table,
            "parent_columns": list(self.parent_columns),
        }
        if self.context_columns is not None:
            out["context_columns"] = list(self.context_columns)
        if self.one_to_one:
            out["one_to_one"] = True
        if self.orphans is not None:
            out["orphans"] = self.orphans
        if self.detection is not None:
            out["detection"] = dict(self.detection)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ForeignKey:
        def cols(value: Any) -> tuple[str, ...]:
            return (value,) if isinstance(value, str) else tuple(value)

        ctx = data.get("context_columns")
        return cls(
            child_table=data["child_table"],
            child_columns=cols(data["child_columns"]),
            parent_table=data["parent_table"],
            parent_columns=cols(data["parent_columns"]),
            context_columns=tuple(ctx) if ctx is not None else None,
            one_to_one=bool(data.get("one_to_one", False)),
            orphans=data.get("orphans"),
            detection=dict(data["detection"]) if data.get("detection") is not None else None,
        )


@dataclass(frozen=True)
class Metadata:
    """A whole database's structure. Immutable; every change returns a new object.

    ``detection`` is what ``detect`` wrote about the whole run (threshold, sampled tables, time, the
    key proposals it left out with their evidence); ignored by fitting and by equality.
    """

    tables: tuple[Table, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    spec_version: int = SPEC_VERSION
    detection: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)
    _index: dict[str, Table] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {t.name: t for t in self.tables})

    # -- lookup --------------------------------------------------------------------------------
    @property
    def table_names(self) -> list[str]:
        return [t.name for t in self.tables]

    def table(self, name: str) -> Table:
        try:
            return self._index[name]
        except KeyError:
            from hiveframe.errors import did_you_mean

            raise MetadataError(
                [Problem("no such table", table=name, hint=did_you_mean(name, self._index))]
            ) from None

    def has_table(self, name: str) -> bool:
        return name in self._index

    def parents_of(self, table: str) -> list[ForeignKey]:
        """Foreign keys whose child is ``table`` (self-references included)."""
        return [fk for fk in self.foreign_keys if fk.child_table == table]

    def children_of(self, table: str) -> list[ForeignKey]:
        """Foreign keys whose parent is ``table`` (self-references included)."""
        return [fk for fk in self.foreign_keys if fk.parent_table == table]

    def foreign_key_columns(self, table: str) -> set[str]:
        return {c for fk in self.parents_of(table) for c in fk.child_columns}

    def topological_order(self) -> list[str]:
        """Tables ordered parents first. Self-references are ignored here (handled in-table).

        Raises :class:`MetadataError` naming the tables of any cycle through several tables.
        """
        names = self.table_names
        deps: dict[str, set[str]] = {n: set() for n in names}
        for fk in self.foreign_keys:
            if fk.is_self_reference or fk.child_table not in deps or fk.parent_table not in deps:
                continue
            deps[fk.child_table].add(fk.parent_table)
        order: list[str] = []
        placed: set[str] = set()
        remaining = list(names)
        while remaining:
            ready = [n for n in remaining if deps[n] <= placed]
            if not ready:
                cycle = find_cycle({n: deps[n] for n in remaining})
                raise MetadataError(
                    [
                        Problem(
                            "foreign keys form a cycle through several tables: " + " -> ".join(cycle),
                            hint="make one of these foreign keys a plain column, or drop it; "
                            "hiveframe needs a parent to exist before its children",
                        )
                    ]
                )
            for n in ready:
                order.append(n)
                placed.add(n)
            remaining = [n for n in remaining if n not in placed]
        return order

    # -- changes -------------------------------------------------------------------------------
    def with_table(self, table: Table) -> Metadata:
        tables = [table if t.name == table.name else t for t in self.tables]
        if not self.has_table(table.name):
            tables.append(table)
        return replace(self, tables=tuple(tables))

    def without_table(self, name: str) -> Metadata:
        return replace(
            self,
            tables=tuple(t for t in self.tables if t.name != name),
            foreign_keys=tuple(
                fk for fk in self.foreign_keys if name not in (fk.child_table, fk.parent_table)
            ),
        )

    def with_foreign_key(self, fk: ForeignKey) -> Metadata:
        kept = tuple(
            f
            for f in self.foreign_keys
            if not (f.child_table == fk.child_table and f.child_columns == fk.child_columns)
        )
        return replace(self, foreign_keys=kept + (fk,))

    def without_foreign_key(self, child_table: str, child_columns: str | Iterable[str]) -> Metadata:
        """Drop the foreign key of ``child_table`` on ``child_columns`` (a column name or several)."""
        cols = (child_columns,) if isinstance(child_columns, str) else tuple(child_columns)
        kept = tuple(f for f in self.foreign_keys if not (f.child_table == child_table and f.child_columns == cols))
        if len(kept) == len(self.foreign_keys):
            raise MetadataError([Problem(
                f"no foreign key on {child_table}({', '.join(cols)})", table=child_table,
                hint="foreign keys: " + (", ".join(f.name for f in self.foreign_keys) or "none"))])
        return replace(self, foreign_keys=kept)

    def with_column(self, table: str, column: Column) -> Metadata:
        return self.with_table(self.table(table).with_column(column))

    def with_rule(self, table: str, rule: Mapping[str, Any]) -> Metadata:
        """The same metadata with one more rule on ``table`` (see :mod:`hiveframe.metadata.rules`)."""
        return self.with_table(self.table(table).with_constraint(rule))

    def without_detection(self) -> Metadata:
        """The same keys and columns without what ``detect`` recorded (its evidence quotes exact
        counts of the data, which a fitted model must not carry)."""
        return replace(
            self,
            tables=tuple(replace(t, detection=None, constraints=tuple(
                {k: v for k, v in c.items() if k != "detection"} for c in t.constraints)) for t in self.tables),
            foreign_keys=tuple(replace(f, detection=None) for f in self.foreign_keys),
            detection=None,
        )

    # -- JSON ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = {
            "spec_version": self.spec_version,
            "tables": {t.name: t.to_dict() for t in self.tables},
            "foreign_keys": [fk.to_dict() for fk in self.foreign_keys],
        }
        if self.detection is not None:
            out["detection"] = dict(self.detection)
        return out

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, default=_json_default)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Metadata:
        if not isinstance(data, Mapping):
            raise MetadataError([Problem(f"metadata must be a JSON object, got {type(data).__name__}",
                                         hint='{"spec_version": 1, "tables": {...}, "foreign_keys": [...]}')])
        version = data.get("spec_version")
        if version is None:
            sdv_version = _sdv_spec_version(data)
            if sdv_version is not None:
                raise MetadataError(
                    [
                        Problem(
                            f"this is SDV metadata (METADATA_SPEC_VERSION {sdv_version}), "
                            "not hiveframe metadata",
                            hint="import it with hiveframe.metadata.from_sdv(path_or_dict), "
                            "optionally from_sdv(..., database=db) to take column dtypes from the data",
                        )
                    ]
                )
            raise MetadataError(
                [
                    Problem(
                        "metadata JSON has no spec_version",
                        hint="is this SDV metadata? load it with hiveframe.metadata.from_sdv()",
                    )
                ]
            )
        if isinstance(version, bool) or not isinstance(version, int):
            raise MetadataError([Problem(f"spec_version must be an integer, got {version!r}",
                                         hint=f"this hiveframe writes spec_version {SPEC_VERSION}")])
        if int(version) > SPEC_VERSION:
            raise MetadataError(
                [
                    Problem(
                        f"metadata spec_version {version} is newer than this hiveframe understands "
                        f"({SPEC_VERSION})",
                        hint="upgrade hiveframe",
                    )
                ]
            )
        MetadataError.raise_if_any(_shape_problems(data))
        return cls(
            tables=tuple(Table.from_dict(n, t) for n, t in data.get("tables", {}).items()),
            foreign_keys=tuple(ForeignKey.from_dict(f) for f in data.get("foreign_keys", ())),
            spec_version=SPEC_VERSION,
            detection=dict(data["detection"]) if data.get("detection") is not None else None,
        )

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Metadata:
        """Load from a JSON string or a path to a JSON file."""
        return cls.from_dict(_read_json(text_or_path, "metadata"))


_FK_FIELDS = ("child_table", "child_columns", "parent_table", "parent_columns")


def _names(value: Any) -> bool:
    """A column name or a list of column names, as keys and foreign keys are written."""
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _shape_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Every place where metadata JSON does not have the shape hiveframe writes, before anything reads it.

    Hand-written metadata fails here with the table and column at fault instead of deep inside the
    loader (a ``KeyError`` or ``'list' object has no attribute 'items'``).
    """
    problems: list[Problem] = []
    tables = data.get("tables", {})
    if not isinstance(tables, Mapping):
        return [Problem(f'"tables" must be an object keyed by table name, got {type(tables).__name__}',
                        hint='write {"tables": {"users": {"columns": {...}, "primary_key": ["id"]}}}')]
    kinds = [k.value for k in ColumnKind]
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            problems.append(Problem(f"a table must be an object, got {type(table).__name__}", table=name,
                                    hint='{"columns": {...}, "primary_key": [...]}'))
            continue
        columns = table.get("columns", {})
        if not isinstance(columns, Mapping):
            problems.append(Problem(f'"columns" must be an object keyed by column name, got '
                                    f"{type(columns).__name__}", table=name,
                                    hint='{"columns": {"id": {"kind": "id"}, "age": {"kind": "numerical"}}}'))
            columns = {}
        for col_name, column in columns.items():
            if not isinstance(column, Mapping):
                problems.append(Problem(f"a column must be an object, got {column!r}", table=name, column=col_name,
                                        hint='{"kind": "numerical", "dtype": "double"}'))
                continue
            kind = column.get("kind")
            if kind is None:
                problems.append(Problem('the column has no "kind"', table=name, column=col_name,
                                        hint=f"one of: {', '.join(kinds)}"))
            elif kind not in kinds:
                problems.append(Problem(f"unknown kind {kind!r}", table=name, column=col_name,
                                        hint=did_you_mean(str(kind), kinds)))
            pii = column.get("pii_kind")
            if pii is not None and pii not in [k.value for k in PIIKind]:
                problems.append(Problem(f"unknown pii_kind {pii!r}", table=name, column=col_name,
                                        hint=did_you_mean(str(pii), [k.value for k in PIIKind])))
            if "nullable" in column and not isinstance(column["nullable"], bool):
                problems.append(Problem(f"nullable must be true or false, got {column['nullable']!r}",
                                        table=name, column=col_name))
            if column.get("categories") is not None and not isinstance(column["categories"], list):
                problems.append(Problem(f"categories must be a list, got {column['categories']!r}",
                                        table=name, column=col_name, hint='"categories": ["a", "b"]'))
            for bound in ("low", "high"):
                value = column.get(bound)
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                    problems.append(Problem(f"{bound} must be a number, got {value!r}", table=name,
                                            column=col_name))
        gen = table.get("generator")
        if gen is not None and not (isinstance(gen, Mapping) and isinstance(gen.get("name"), str)
                                    and isinstance(gen.get("params", {}), Mapping)):
            problems.append(Problem(f'"generator" must be an object with a "name" and optional "params", got {gen!r}',
                                    table=name, hint='"generator": {"name": "batches", "params": {"max_width": 15}}'))
        pk = table.get("primary_key")
        if pk is not None and not _names(pk):
            problems.append(Problem(f"primary_key must be a column name or a list of them, got {pk!r}",
                                    table=name, hint='"primary_key": ["id"]'))
    fks = data.get("foreign_keys", [])
    if not isinstance(fks, list):
        return problems + [Problem(f'"foreign_keys" must be a list, got {type(fks).__name__}',
                                   hint='[{"child_table": ..., "child_columns": [...], "parent_table": ..., '
                                   '"parent_columns": [...]}]')]
    for i, fk in enumerate(fks):
        if not isinstance(fk, Mapping):
            problems.append(Problem(f"foreign_keys[{i}] must be an object, got {fk!r}"))
            continue
        missing = [f for f in _FK_FIELDS if f not in fk]
        if missing:
            problems.append(Problem(f"foreign_keys[{i}] lacks {', '.join(missing)}", table=fk.get("child_table"),
                                    hint=f"a foreign key needs {', '.join(_FK_FIELDS)}"))
        for f in ("child_columns", "parent_columns"):
            if f in fk and not _names(fk[f]):
                problems.append(Problem(f"foreign_keys[{i}].{f} must be a column name or a list of them, "
                                        f"got {fk[f]!r}", table=fk.get("child_table")))
        for f in ("child_table", "parent_table"):
            if f in fk and not isinstance(fk[f], str):
                problems.append(Problem(f"foreign_keys[{i}].{f} must be a table name, got {fk[f]!r}"))
    return problems


def _sdv_spec_version(data: Mapping[str, Any]) -> str | None:
    """The SDV spec version if ``data`` looks like SDV metadata (V1/V2, single-table or legacy)."""
    if "METADATA_SPEC_VERSION" in data:
        return str(data["METADATA_SPEC_VERSION"])
    tables = data.get("tables")
    if isinstance(tables, Mapping):
        for table in tables.values():
            if not isinstance(table, Mapping):
                continue
            if "fields" in table:
                return "legacy (0.x)"
            columns = table.get("columns")
            if isinstance(columns, Mapping) and any(
                isinstance(c, Mapping) and "sdtype" in c for c in columns.values()
            ):
                return "unknown"
    columns = data.get("columns")
    if isinstance(columns, Mapping) and any(isinstance(c, Mapping) and "sdtype" in c for c in columns.values()):
        return "SINGLE_TABLE (unversioned)"
    return None


def parse_arrow_type(dtype: str) -> Any:
    """Parse the string pyarrow prints for a type (``str(pa_type)``) back into the type.

    ``pa.type_for_alias`` covers plain names; timestamps with units/time zones, decimals,
    dictionaries, lists and fixed-size binaries are parsed here. Raises ``ValueError``.
    """
    import re

    import pyarrow as pa

    text = dtype.strip()
    try:
        return pa.type_for_alias(text)
    except (ValueError, KeyError):
        pass
    m = re.fullmatch(r"timestamp\[(s|ms|us|ns)(?:, tz=(.+))?\]", text)
    if m:
        return pa.timestamp(m.group(1), tz=m.group(2))
    m = re.fullmatch(r"decimal(32|64|128|256)?\((\d+), ?(-?\d+)\)", text)
    if m:
        bits = m.group(1) or "128"
        return getattr(pa, f"decimal{bits}")(int(m.group(2)), int(m.group(3)))
    m = re.fullmatch(r"dictionary<values=(.+), indices=(\w+), ordered=([01])>", text)
    if m:
        return pa.dictionary(parse_arrow_type(m.group(2)), parse_arrow_type(m.group(1)), m.group(3) == "1")
    m = re.fullmatch(r"(large_)?list<(?:item|element): (.+)>", text)
    if m:
        inner = parse_arrow_type(m.group(2))
        return pa.large_list(inner) if m.group(1) else pa.list_(inner)
    m = re.fullmatch(r"fixed_size_binary\[(\d+)\]", text)
    if m:
        return pa.binary(int(m.group(1)))
    raise ValueError(f"unknown Arrow dtype {dtype!r}")


def _json_default(value: Any) -> Any:
    """Make numpy scalars and dates in categories/bounds serialisable."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__} in metadata")


def find_cycle(deps: Mapping[str, Iterable[str]]) -> list[str]:
    """Return one cycle (first node repeated at the end) in a dependency graph, or []."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in deps.get(node, ()):
            if nxt not in deps:
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in deps:
        if state.get(start) is None:
            found = visit(start)
            if found:
                return found
    return []


def _read_json(text_or_path: str | Path, what: str) -> Any:
    """A JSON document given as text (starting with ``{``) or as a path to a file; ``what`` names it in
    errors (a missing file is a source error, bad JSON a metadata error)."""
    text = str(text_or_path)
    if not text.lstrip().startswith("{"):
        path = Path(text_or_path)
        if not path.exists():
            raise SourceError(f"{what} file {str(path)!r} does not exist")
        text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MetadataError([Problem(f"{what} is not valid JSON: {exc}")]) from None
