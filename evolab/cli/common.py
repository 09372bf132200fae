"""Shared by the CLI's commands (evolab.cli): exit codes, output (--json or text), the client."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from evolab.client import EvoLab, Run

OK, REFUSED, USAGE, INTERRUPTED = 0, 1, 2, 130
DEFAULT_URL = "http://127.0.0.1:8000"


class UsageError(Exception):
    """Bad arguments found after parsing: exit code 2."""


def emit(args, data: Any, text: str | None = None) -> None:
    """JSON with --json, else the text (or the data, pretty-printed)."""
    if args.json:
        print(json.dumps(data, default=str))
    else:
        print(text if text is not None else json.dumps(data, indent=2, default=str))


def _acc(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _when(value: str | None) -> str:
    if not value:
        return "-"
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]  # fmt: skip
    return "\n".join(lines)


def run_summary(run: Run) -> str:
    d = run.data
    best = d.get("best") or {}
    budget = d["config"].get("max_individuals")
    why = f" ({d['failure_reason']})" if d.get("failure_reason") else ""
    lines = [
        f"run {d['id']}: {d['name']}",
        f"  status       {d['status']}{why}",
        f"  team         {d['team']}",
        f"  trained      {d['individuals_trained']}" + (f" of {budget}" if budget else ""),
        f"  best         {_acc(best.get('val_accuracy'))} (individual {best.get('id') or '-'})",
        f"  test         {_acc(d.get('test_accuracy'))}"
        f"   ensemble {_acc(d.get('ensemble_test_accuracy'))}",
        f"  total FLOPs  {d.get('total_flops') or 0:.3g}",
        f"  created      {_when(d.get('created'))}",
        f"  last seq     {d['last_seq']}",
        f"  config       {json.dumps(d['config'], sort_keys=True)}",
    ]  # fmt: skip
    return "\n".join(lines)


def lab_for(args) -> EvoLab:
    return EvoLab(args.url, args.token)
