"""The run report's figures as SVG text, drawn in Python: no script, no style attribute.

Every figure is a complete `<svg>` element with presentation attributes (fill, stroke) and
class names, so it draws the same inline in the site's page (under its strict CSP: no
inline script, no style="…") and in the downloaded file that opens offline. Plain Python:
no Django, no numpy. Functions take plain tuples and return markup; nothing is queried here.

Markers the tests (and a reader of the file) rely on: each individual is one
`<circle class="dot alive|dead" data-number="N">`, the best-so-far curve one
`<polyline class="best-line">`, the repeats one `<polyline class="repeat-line">` per run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 760, 340
LEFT, RIGHT, TOP, BOTTOM = 58, 18, 14, 44
ALIVE, DEAD, BEST = "#1f5fbf", "#b3b9c4", "#c2410c"
INK, MUTED, GRID = "#1d2330", "#5b6475", "#e4e8ef"
REPEAT_COLOURS = ("#c2410c", "#1f5fbf", "#16794c", "#7c3aed", "#b45309", "#0e7490",
                  "#be185d", "#4d7c0f", "#6b7280", "#9333ea", "#0369a1", "#a16207")  # fmt: skip


def _n(x: float) -> str:
    """A coordinate with one decimal, without a trailing '.0' (smaller files)."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True)
class Axis:
    """A data range mapped onto pixels; `log` for a base-10 axis (values must be > 0)."""

    lo: float
    hi: float
    start: float
    end: float
    log: bool = False

    def _t(self, v: float) -> float:
        return math.log10(v) if self.log else v

    def __call__(self, v: float) -> float:
        lo, hi = self._t(self.lo), self._t(self.hi)
        frac = (self._t(v) - lo) / (hi - lo) if hi > lo else 0.5
        return self.start + frac * (self.end - self.start)


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks, k = [], 0
    while first + k * step <= hi + step * 1e-9:
        ticks.append(round(first + k * step, 12))
        k += 1
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten within [lo, hi] (at least the two around them)."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    return [10.0**e for e in range(a, b + 1)]


def accuracy_range(values: Sequence[float]) -> tuple[float, float]:
    """The y range of an accuracy plot: the data's, widened to whole tenths, within [0, 1]."""
    if not values:
        return 0.0, 1.0
    lo = max(0.0, math.floor(min(values) * 10 - 1e-9) / 10)
    hi = min(1.0, math.ceil(max(values) * 10 + 1e-9) / 10)
    return (lo, hi) if hi > lo else (max(0.0, lo - 0.1), min(1.0, hi + 0.1))


def percent(v: float) -> str:
    return f"{v * 100:.0f}%"


def time_unit(seconds: float) -> tuple[float, str]:
    """(divisor, unit) that shows a wall-clock span in readable numbers."""
    if seconds <= 180:
        return 1.0, "s"
    if seconds <= 3 * 3600:
        return 60.0, "min"
    return 3600.0, "h"


def si(v: float) -> str:
    """1.2e9 as "1.2 G" (FLOPs)."""
    for scale, prefix in zip((1e18, 1e15, 1e12, 1e9, 1e6, 1e3), "EPTGMk", strict=True):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {prefix}"
    return f"{v:.3g}"


class Frame:
    """One figure's axes, grid and labels; plotting functions append marks to `parts`."""

    def __init__(self, x: Axis, y: Axis, label: str, height: int = HEIGHT) -> None:
        self.x, self.y, self.height = x, y, height
        self.parts: list[str] = []
        self.label = label

    def grid(self, xticks, yticks, xfmt: Callable[[float], str], yfmt, xlabel: str, ylabel: str):
        x0, x1, y0, y1 = self.x.start, self.x.end, self.y.start, self.y.end
        out = [f'<g class="grid" stroke="{GRID}" stroke-width="1">']
        for t in yticks:
            y = _n(self.y(t))
            out.append(f'<line x1="{_n(x0)}" x2="{_n(x1)}" y1="{y}" y2="{y}"/>')
        for t in xticks:
            x = _n(self.x(t))
            out.append(f'<line x1="{x}" x2="{x}" y1="{_n(y0)}" y2="{_n(y1)}"/>')
        out.append("</g>")
        out.append(f'<g class="ticks" fill="{MUTED}" font-size="11">')
        for t in yticks:
            out.append(
                f'<text x="{_n(x0 - 6)}" y="{_n(self.y(t) + 4)}" text-anchor="end">{yfmt(t)}</text>'
            )
        for t in xticks:
            out.append(
                f'<text x="{_n(self.x(t))}" y="{_n(y0 + 16)}" text-anchor="middle">{xfmt(t)}</text>'
            )
        out.append("</g>")
        out.append(f'<rect x="{_n(x0)}" y="{_n(y1)}" width="{_n(x1 - x0)}" '
                   f'height="{_n(y0 - y1)}" fill="none" stroke="#c9d0db"/>')  # fmt: skip
        out.append(
            f'<text class="axis-label" x="{_n((x0 + x1) / 2)}" y="{_n(y0 + 36)}" '
            f'text-anchor="middle" fill="{INK}" font-size="12">{escape(xlabel)}</text>'
        )
        out.append(
            f'<text class="axis-label" transform="translate(14 {_n((y0 + y1) / 2)}) rotate(-90)" '
            f'text-anchor="middle" fill="{INK}" font-size="12">{escape(ylabel)}</text>'
        )
        self.parts.extend(out)

    def svg(self, cls: str, extra: str = "") -> str:
        body = "\n".join(self.parts)
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="figure {cls}" '
            f'viewBox="0 0 {WIDTH} {self.height}" width="{WIDTH}" height="{self.height}" '
            f'role="img" aria-label="{escape(self.label)}" font-family="system-ui, sans-serif"'
            f"{extra}>\n<title>{escape(self.label)}</title>\n{body}\n</svg>"
        )


def _frame(xlo, xhi, ylo, yhi, label, log=False) -> Frame:
    x = Axis(xlo, xhi, LEFT, WIDTH - RIGHT, log=log)
    y = Axis(ylo, yhi, HEIGHT - BOTTOM, TOP)
    return Frame(x, y, label)


def _dots(frame: Frame, points) -> None:
    """Dead ones first (underneath, grey), then the alive; `points`: (x, acc, dead, number)."""
    for want_dead in (True, False):
        cls, fill = ("dead", DEAD) if want_dead else ("alive", ALIVE)
        frame.parts.append(f'<g class="dots {cls}" fill="{fill}">')
        for x, acc, dead, number in points:
            if dead is want_dead:
                frame.parts.append(
                    f'<circle class="dot {cls}" data-number="{number}" cx="{_n(frame.x(x))}" '
                    f'cy="{_n(frame.y(acc))}" r="3"><title>#{number}: {acc * 100:.2f}%</title>'
                    "</circle>"
                )
        frame.parts.append("</g>")


def _ring(frame: Frame, points, ring: int | None) -> None:
    """A ring around the best individual's dot, drawn over everything."""
    for x, acc, _, number in points:
        if number == ring:
            frame.parts.append(
                f'<circle class="best-ring" cx="{_n(frame.x(x))}" cy="{_n(frame.y(acc))}" r="7" '
                f'fill="none" stroke="{INK}" stroke-width="2"/>'
            )


def _steps(frame: Frame, steps, cls: str, colour: str, name: str = "") -> None:
    """A step line: flat until the best rises, then up (`steps`: (x, acc), x ascending)."""
    coords: list[str] = []
    prev = None
    for x, acc in steps:
        px, py = _n(frame.x(x)), _n(frame.y(acc))
        if prev is not None:
            coords.append(f"{px},{prev}")
        coords.append(f"{px},{py}")
        prev = py
    title = f"<title>{escape(name)}</title>" if name else ""
    frame.parts.append(
        f'<polyline class="{cls}" points="{" ".join(coords)}" fill="none" stroke="{colour}" '
        f'stroke-width="2.2" stroke-linejoin="round">{title}</polyline>'
    )


def empty(label: str, message: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="figure empty" viewBox="0 0 {WIDTH} 80" '
        f'width="{WIDTH}" height="80" role="img" aria-label="{escape(label)}">'
        f'<text x="{WIDTH // 2}" y="44" text-anchor="middle" fill="{MUTED}" '
        f'font-family="system-ui, sans-serif" font-size="14">{escape(message)}</text></svg>'
    )


def population_figure(points, steps, best: int | None = None) -> str:
    """The paper's Figure 1: every trained individual a dot at (seconds since the run
    started, validation accuracy), the killed ones grey, the best-so-far as a step line.
    `points`: (seconds, acc, dead, number); `steps`: (seconds, best acc), ascending."""
    label = f"validation accuracy of {len(points)} individuals over wall-clock time"
    if not points:
        return empty(label, "No individual has been trained yet.")
    t_max = max(max(p[0] for p in points), 1e-9)
    div, unit = time_unit(t_max)
    ylo, yhi = accuracy_range([p[1] for p in points])
    frame = _frame(0.0, t_max / div, ylo, yhi, label)
    frame.grid(
        nice_ticks(0, t_max / div), nice_ticks(ylo, yhi, 5), lambda t: f"{t:g}", percent,
        f"wall-clock time ({unit})", "validation accuracy",
    )  # fmt: skip
    scaled = [(t / div, a, d, n) for t, a, d, n in points]
    _dots(frame, scaled)
    if steps:
        line = [(t / div, a) for t, a in steps] + [(t_max / div, steps[-1][1])]
        _steps(frame, line, "best-line", BEST, "best so far")
    _ring(frame, scaled, best)
    return frame.svg("population", f' data-points="{len(points)}"')


def flops_figure(points, best: int | None = None) -> str:
    """Validation accuracy against the FLOPs each individual cost (log x): `points`:
    (flops, acc, dead, number); individuals without a FLOPs count are left out."""
    points = [p for p in points if p[0] and p[0] > 0]
    label = f"validation accuracy against training FLOPs of {len(points)} individuals"
    if not points:
        return empty(label, "No FLOPs counted yet.")
    lo, hi = min(p[0] for p in points), max(p[0] for p in points)
    ticks = log_ticks(lo, hi)
    xlo, xhi = ticks[0], ticks[-1] if ticks[-1] > ticks[0] else ticks[0] * 10
    ylo, yhi = accuracy_range([p[1] for p in points])
    frame = _frame(xlo, xhi, ylo, yhi, label, log=True)
    frame.grid(ticks, nice_ticks(ylo, yhi, 5), si, percent,
               "FLOPs to train and validate (log scale)", "validation accuracy")  # fmt: skip
    _dots(frame, points)
    _ring(frame, points, best)
    return frame.svg("flops", f' data-points="{len(points)}"')


def repeats_figure(curves) -> str:
    """The paper's repeatability figure: each run's best-so-far against individuals trained.
    `curves`: (name, is_this_run, [(individuals trained, best acc)])."""
    label = f"best validation accuracy so far of {len(curves)} runs of the same config"
    drawn = [(name, this, c) for name, this, c in curves if c]
    if not drawn:
        return empty(label, "No run has trained an individual yet.")
    n_max = max(max(n for n, _ in c) for _, _, c in drawn)
    ylo, yhi = accuracy_range([a for _, _, c in drawn for _, a in c])
    frame = _frame(0, max(1, n_max), ylo, yhi, label)
    frame.height = HEIGHT + 22 * ((len(drawn) + 2) // 3)
    frame.grid(nice_ticks(0, max(1, n_max)), nice_ticks(ylo, yhi, 5), lambda t: f"{t:g}",
               percent, "individuals trained", "best validation accuracy so far")  # fmt: skip
    colours = [REPEAT_COLOURS[i % len(REPEAT_COLOURS)] for i in range(len(drawn))]
    this_last = sorted(zip(drawn, colours, strict=True), key=lambda d: d[0][1])
    for (name, this, c), colour in this_last:  # this run's line over the others
        cls = "repeat-line this-run" if this else "repeat-line"
        _steps(frame, [(0, c[0][1]), *c], cls, colour, name)
    for i, ((name, this, _), colour) in enumerate(zip(drawn, colours, strict=True)):
        col, row = i % 3, i // 3
        x, y = LEFT + col * 240, HEIGHT + 8 + row * 22
        bold = ' font-weight="700"' if this else ""
        frame.parts.append(
            f'<g class="repeat-key"><line x1="{x}" x2="{x + 22}" y1="{y}" y2="{y}" '
            f'stroke="{colour}" stroke-width="3"/><text x="{x + 28}" y="{y + 4}" '
            f'font-size="12" fill="{INK}"{bold}>{escape(name[:30])}</text></g>'
        )
    return frame.svg("repeats", f' data-runs="{len(drawn)}"')


def bar(fraction: float | None, width: int = 120) -> str:
    """A small horizontal bar (tables): an SVG, since the CSP allows no style="width: …"."""
    if fraction is None:
        return ""
    w = max(0.0, min(1.0, fraction)) * width
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="minibar" width="{width}" height="9" '
        f'aria-hidden="true"><rect width="{width}" height="9" rx="2" fill="{GRID}"/>'
        f'<rect width="{_n(w)}" height="9" rx="2" fill="#8fb0e3"/></svg>'
    )
