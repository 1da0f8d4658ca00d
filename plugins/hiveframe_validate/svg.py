"""Small inline SVG charts for the report: no plotting library, no network, readable in any browser.

Every function returns an ``<svg>`` string sized in CSS pixels; values and labels are escaped here,
and each mark carries a ``<title>`` so hovering shows the exact figure.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from html import escape

REAL = "#3867b5"
SYNTH = "#e0782f"
GRID = "#e5e7eb"
AXIS = "#6b7280"
TEXT = "#374151"
FONT = "font-family='system-ui,-apple-system,Segoe UI,Roboto,sans-serif' font-size='11'"


def _f(x: float) -> str:
    return f"{x:.1f}"


def compact(v: float | None, kind: str = "number") -> str:
    """Short axis label: 1.2k, 3.4M, dates as YYYY-MM-DD when ``kind`` is datetime."""
    if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return "n/a"
    if kind == "datetime":
        try:
            return _dt.datetime.fromtimestamp(v, tz=_dt.timezone.utc).strftime("%Y-%m-%d")
        except (OverflowError, OSError, ValueError):
            return f"{v:.3g}"
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.3g}G"
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    if a >= 100 or v == int(v):
        return f"{v:.0f}"
    return f"{v:.3g}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    ticks = []
    t = start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def axis_ticks(lo: float, hi: float, kind: str = "number") -> list[tuple[float, str]]:
    """Tick positions and labels: round numbers, or calendar years / months for dates (seconds)."""
    if kind != "datetime":
        return [(t, compact(t)) for t in nice_ticks(lo, hi, 4) if lo <= t <= hi]
    try:
        start = _dt.datetime.fromtimestamp(lo, tz=_dt.timezone.utc)
        end = _dt.datetime.fromtimestamp(hi, tz=_dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return []
    years = end.year - start.year
    out = []
    if years >= 2:
        step = max(1, math.ceil(years / 4))
        for y in range(start.year + 1, end.year + 1, step):
            t = _dt.datetime(y, 1, 1, tzinfo=_dt.timezone.utc).timestamp()
            out.append((t, str(y)))
    else:
        months = (end.year - start.year) * 12 + end.month - start.month
        step = max(1, math.ceil(months / 4))
        y, m = start.year, start.month
        for _ in range(0, months + 1, step):
            m += step
            while m > 12:
                y, m = y + 1, m - 12
            t = _dt.datetime(y, m, 1, tzinfo=_dt.timezone.utc).timestamp()
            if t <= hi:
                out.append((t, f"{y}-{m:02d}"))
        if not out:
            out = [(lo, compact(lo, "datetime")), (hi, compact(hi, "datetime"))]
    return [(t, text) for t, text in out if lo <= t <= hi]


def _svg(width: int, height: int, body: str, label: str) -> str:
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(label, quote=True)}' {FONT}>"
            f"{body}</svg>")


def _trunc(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def histogram_overlay(edges: Sequence[float], real: Sequence[float], synthetic: Sequence[float], *,
                      kind: str = "number", width: int = 300, height: int = 150, label: str = "") -> str:
    """Real shares as filled bars, synthetic shares as an orange step line over the same bins."""
    if len(edges) < 2:
        return _svg(width, height, f"<text x='10' y='20' fill='{AXIS}'>no values</text>", label)
    ml, mr, mt, mb = 34, 14, 8, 22
    pw, ph = width - ml - mr, height - mt - mb
    top = max(max(real, default=0), max(synthetic, default=0)) or 1.0
    lo, hi = edges[0], edges[-1]
    span = (hi - lo) or 1.0

    def x(v: float) -> float:
        return ml + (v - lo) / span * pw

    def y(v: float) -> float:
        return mt + ph - v / top * ph

    parts = []
    for t in nice_ticks(0, top, 3):
        parts.append(f"<line x1='{ml}' x2='{ml + pw}' y1='{_f(y(t))}' y2='{_f(y(t))}' stroke='{GRID}'/>"
                     f"<text x='{ml - 4}' y='{_f(y(t) + 3)}' text-anchor='end' fill='{AXIS}'>{t:.0%}</text>")
    for i, v in enumerate(real):
        x0, x1 = x(edges[i]), x(edges[i + 1])
        parts.append(f"<rect x='{_f(x0)}' y='{_f(y(v))}' width='{_f(max(x1 - x0 - 0.6, 0.5))}' "
                     f"height='{_f(mt + ph - y(v))}' fill='{REAL}' fill-opacity='0.55'>"
                     f"<title>{escape(compact(edges[i], kind))} to {escape(compact(edges[i + 1], kind))}: "
                     f"real {v:.1%}, synthetic {synthetic[i]:.1%}</title></rect>")
    pts = []
    for i, v in enumerate(synthetic):
        pts += [f"{_f(x(edges[i]))},{_f(y(v))}", f"{_f(x(edges[i + 1]))},{_f(y(v))}"]
    parts.append(f"<polyline points='{' '.join(pts)}' fill='none' stroke='{SYNTH}' stroke-width='2'/>")
    parts.append(f"<line x1='{ml}' x2='{ml + pw}' y1='{mt + ph}' y2='{mt + ph}' stroke='{AXIS}'/>")
    for t, text in axis_ticks(lo, hi, kind):
        parts.append(f"<line x1='{_f(x(t))}' x2='{_f(x(t))}' y1='{mt + ph}' y2='{mt + ph + 3}' stroke='{AXIS}'/>"
                     f"<text x='{_f(x(t))}' y='{height - 6}' text-anchor='middle' fill='{AXIS}'>{escape(text)}</text>")
    return _svg(width, height, "".join(parts), label)


def category_bars(labels: Sequence[str], real: Sequence[float], synthetic: Sequence[float], *,
                  width: int = 300, label: str = "") -> str:
    """Horizontal pairs of bars per category: real above, synthetic below."""
    ml, mr, row = 120, 40, 16
    height = max(len(labels) * row + 10, 30)
    pw = width - ml - mr
    top = max(max(real, default=0), max(synthetic, default=0)) or 1.0
    parts = []
    for i, name in enumerate(labels):
        y0 = 5 + i * row
        r, s = real[i], synthetic[i]
        parts.append(f"<g><title>{escape(name)}: real {r:.1%}, synthetic {s:.1%}</title>"
                     f"<text x='{ml - 5}' y='{y0 + 11}' text-anchor='end' fill='{TEXT}'>"
                     f"{escape(_trunc(name, 15))}</text>"
                     f"<rect x='{ml}' y='{y0 + 1}' width='{_f(max(r / top * pw, 0.5))}' height='6' fill='{REAL}'/>"
                     f"<rect x='{ml}' y='{y0 + 8}' width='{_f(max(s / top * pw, 0.5))}' height='6' fill='{SYNTH}'/>"
                     f"<text x='{_f(ml + max(r, s) / top * pw + 4)}' y='{y0 + 11}' fill='{AXIS}' "
                     f"font-size='10'>{max(r, s):.0%}</text></g>")
    return _svg(width, height, "".join(parts), label)


def _blend(c0: tuple[int, int, int], c1: tuple[int, int, int], t: float) -> str:
    t = min(max(t, 0.0), 1.0)
    r, g, b = (round(a + (b_ - a) * t) for a, b_ in zip(c0, c1, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def diff_color(v: float | None, vmax: float = 0.5) -> str:
    """White (no difference) to deep red (``vmax`` or more)."""
    if v is None:
        return "#f3f4f6"
    return _blend((255, 255, 255), (185, 28, 28), v / vmax)


def assoc_color(v: float | None) -> str:
    """Diverging: blue (-1) through white (0) to orange-red (+1)."""
    if v is None:
        return "#f3f4f6"
    if v < 0:
        return _blend((255, 255, 255), (37, 99, 175), -v)
    return _blend((255, 255, 255), (200, 70, 30), v)


def heatmap(columns: Sequence[str], matrix: Sequence[Sequence[float | None]], *, color=diff_color,
            cell: int = 0, label: str = "", value_label: str = "value") -> str:
    """Square matrix with column names on the left and top (rotated)."""
    k = len(columns)
    cell = cell or max(10, min(28, 520 // max(k, 1)))
    ml = mt = 8 + 6.2 * min(max((len(c) for c in columns), default=4), 18)
    size = k * cell
    # rotated top labels lean right: leave room for the last one
    width, height = int(ml + size + 0.5 * (ml - 8) + 4), int(mt + size + 10)
    parts = []
    for i, name in enumerate(columns):
        short = escape(_trunc(name, 18))
        cy = mt + i * cell + cell / 2 + 4
        parts.append(f"<text x='{_f(ml - 5)}' y='{_f(cy)}' text-anchor='end' fill='{TEXT}'>{short}</text>")
        cx = ml + i * cell + cell / 2 + 4
        parts.append(f"<text x='{_f(cx)}' y='{_f(mt - 5)}' transform='rotate(-60 {_f(cx)} {_f(mt - 5)})' "
                     f"fill='{TEXT}'>{short}</text>")
    for i in range(k):
        for j in range(k):
            v = matrix[i][j]
            tip = f"{columns[i]} \u00d7 {columns[j]}: {value_label} " + ("n/a" if v is None else f"{v:.3f}")
            parts.append(f"<rect x='{_f(ml + j * cell)}' y='{_f(mt + i * cell)}' width='{cell - 1}' "
                         f"height='{cell - 1}' fill='{color(v)}'><title>{escape(tip)}</title></rect>")
    return _svg(width, height, "".join(parts), label)


def color_legend(color, lo: float, hi: float, *, width: int = 180, label: str = "") -> str:
    steps = 24
    parts = []
    for i in range(steps):
        v = lo + (hi - lo) * i / (steps - 1)
        parts.append(f"<rect x='{_f(10 + i * (width - 20) / steps)}' y='4' width='{_f((width - 20) / steps + 0.5)}' "
                     f"height='10' fill='{color(v)}'/>")
    parts.append(f"<text x='10' y='27' fill='{AXIS}'>{lo:g}</text>"
                 f"<text x='{width - 10}' y='27' text-anchor='end' fill='{AXIS}'>{hi:g}{'+' if hi < 1 else ''}</text>")
    return _svg(width, 32, "".join(parts), label)


def grouped_bars(labels: Sequence[str], real: Sequence[float], synthetic: Sequence[float], *,
                 width: int = 420, height: int = 170, label: str = "", xlabel: str = "") -> str:
    """Vertical real/synthetic bar pairs (children per parent: 0, 1, 2...)."""
    ml, mr, mt, mb = 38, 8, 8, 34
    pw, ph = width - ml - mr, height - mt - mb
    n = max(len(labels), 1)
    top = max(max(real, default=0), max(synthetic, default=0)) or 1.0
    slot = pw / n
    bw = max(min(slot * 0.4, 18), 1)
    parts = []
    for t in nice_ticks(0, top, 3):
        yy = mt + ph - t / top * ph
        parts.append(f"<line x1='{ml}' x2='{ml + pw}' y1='{_f(yy)}' y2='{_f(yy)}' stroke='{GRID}'/>"
                     f"<text x='{ml - 4}' y='{_f(yy + 3)}' text-anchor='end' fill='{AXIS}'>{t:.0%}</text>")
    longest = max((len(str(v)) for v in labels), default=1)
    fit = max(pw / (longest * 6.2 + 8), 1)
    every = max(1, math.ceil(n / fit))
    for i, name in enumerate(labels):
        cx = ml + slot * i + slot / 2
        for side, v, color, dx in (("real", real[i], REAL, -bw), ("synthetic", synthetic[i], SYNTH, 0)):
            h = v / top * ph
            parts.append(f"<rect x='{_f(cx + dx)}' y='{_f(mt + ph - h)}' width='{_f(bw)}' height='{_f(max(h, 0))}' "
                         f"fill='{color}'><title>{escape(name)}: {side} {v:.1%}</title></rect>")
        if i % every == 0:
            parts.append(f"<text x='{_f(cx)}' y='{mt + ph + 13}' text-anchor='middle' fill='{AXIS}'>"
                         f"{escape(name)}</text>")
    parts.append(f"<line x1='{ml}' x2='{ml + pw}' y1='{mt + ph}' y2='{mt + ph}' stroke='{AXIS}'/>")
    if xlabel:
        parts.append(f"<text x='{ml + pw / 2}' y='{height - 4}' text-anchor='middle' fill='{TEXT}'>"
                     f"{escape(xlabel)}</text>")
    return _svg(width, height, "".join(parts), label)


def line_chart(xs: Sequence[float], ys: Sequence[float | None], *, width: int = 420, height: int = 200,
               ref: float | None = None, ref_label: str = "", xlabel: str = "", ylabel: str = "",
               label: str = "") -> str:
    """One series with points, x as percentages, and an optional dashed reference level."""
    ml, mr, mt, mb = 46, 22, 12, 36
    pw, ph = width - ml - mr, height - mt - mb
    vals = [v for v in ys if v is not None and math.isfinite(v)] + ([ref] if ref is not None else [])
    if not vals:
        return _svg(width, height, f"<text x='10' y='20' fill='{AXIS}'>no values</text>", label)
    lo, hi = min(vals), max(vals)
    pad = max((hi - lo) * 0.15, 0.02)
    lo, hi = lo - pad, hi + pad

    def x(v: float) -> float:
        return ml + v * pw

    def y(v: float) -> float:
        return mt + ph - (v - lo) / (hi - lo) * ph

    parts = []
    for t in nice_ticks(lo, hi, 4):
        parts.append(f"<line x1='{ml}' x2='{ml + pw}' y1='{_f(y(t))}' y2='{_f(y(t))}' stroke='{GRID}'/>"
                     f"<text x='{ml - 5}' y='{_f(y(t) + 3)}' text-anchor='end' fill='{AXIS}'>{t:.2f}</text>")
    for t in xs:
        parts.append(f"<text x='{_f(x(t))}' y='{mt + ph + 14}' text-anchor='middle' fill='{AXIS}'>{t:.0%}</text>")
    if ref is not None:
        parts.append(f"<line x1='{ml}' x2='{ml + pw}' y1='{_f(y(ref))}' y2='{_f(y(ref))}' stroke='{REAL}' "
                     f"stroke-dasharray='5 4'/><text x='{ml + pw - 4}' y='{_f(y(ref) - 5)}' text-anchor='end' "
                     f"fill='{REAL}'>{escape(ref_label)}</text>")
    pts = [(x(a), y(b)) for a, b in zip(xs, ys, strict=True) if b is not None and math.isfinite(b)]
    parts.append(f"<polyline points='{' '.join(f'{_f(a)},{_f(b)}' for a, b in pts)}' fill='none' "
                 f"stroke='{SYNTH}' stroke-width='2'/>")
    for (px, py), a, b in zip(pts, xs, ys, strict=False):
        parts.append(f"<circle cx='{_f(px)}' cy='{_f(py)}' r='4' fill='{SYNTH}'><title>{a:.0%} real: "
                     f"{b:.3f}</title></circle>")
    parts.append(f"<line x1='{ml}' x2='{ml + pw}' y1='{mt + ph}' y2='{mt + ph}' stroke='{AXIS}'/>")
    if xlabel:
        parts.append(f"<text x='{ml + pw / 2}' y='{height - 4}' text-anchor='middle' fill='{TEXT}'>"
                     f"{escape(xlabel)}</text>")
    if ylabel:
        parts.append(f"<text x='12' y='{mt + ph / 2}' transform='rotate(-90 12 {mt + ph / 2})' "
                     f"text-anchor='middle' fill='{TEXT}'>{escape(ylabel)}</text>")
    return _svg(width, height, "".join(parts), label)


def score_bars(items: Sequence[tuple[str, float | None, str]], *, lo: float = 0.0, hi: float = 1.0,
               marks: Sequence[tuple[float, str]] = (), width: int = 420, label: str = "") -> str:
    """Horizontal bars (label, value, colour) on a fixed scale with labelled vertical marks."""
    ml, mr, row = 150, 46, 24
    height = len(items) * row + 28
    pw = width - ml - mr

    def x(v: float) -> float:
        return ml + (min(max(v, lo), hi) - lo) / (hi - lo) * pw

    parts = []
    for t in nice_ticks(lo, hi, 4):
        parts.append(f"<line x1='{_f(x(t))}' x2='{_f(x(t))}' y1='4' y2='{height - 20}' stroke='{GRID}'/>"
                     f"<text x='{_f(x(t))}' y='{height - 6}' text-anchor='middle' fill='{AXIS}'>{t:g}</text>")
    for i, (name, v, color) in enumerate(items):
        y0 = 6 + i * row
        parts.append(f"<text x='{ml - 6}' y='{y0 + 13}' text-anchor='end' fill='{TEXT}'>"
                     f"{escape(_trunc(name, 24))}</text>")
        if v is not None and math.isfinite(v):
            parts.append(f"<rect x='{ml}' y='{y0 + 2}' width='{_f(max(x(v) - ml, 1))}' height='15' rx='2' "
                         f"fill='{color}'><title>{escape(name)}: {v:.3f}</title></rect>"
                         f"<text x='{_f(x(v) + 4)}' y='{y0 + 13}' fill='{TEXT}'>{v:.3f}</text>")
    for v, text in marks:
        parts.append(f"<line x1='{_f(x(v))}' x2='{_f(x(v))}' y1='2' y2='{height - 20}' stroke='{AXIS}' "
                     f"stroke-dasharray='3 3'><title>{escape(text)}</title></line>")
    return _svg(width, height, "".join(parts), label)
