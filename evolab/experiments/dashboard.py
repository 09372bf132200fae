"""Read-only queries behind the live dashboard: snapshot arrays, lineage, analytics, compare.

Nothing here writes. The snapshot is columnar (one array per field, no DNA) so that a run of
50,000 individuals loads in one small response; DNA is fetched per selected individual.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db import connection

from evolab.evolution.dna import DNA, DNAError, shapes
from evolab.evolution.mutations import MUTATIONS

from .events import experiment_payload
from .models import Experiment, Individual, State
from .warmstart import seed_origin

STATE_CODES = {State.TRAINING: 0, State.ALIVE: 1, State.DEAD: 2, State.FAILED: 3}
MUTATION_CODES = {name: i for i, name in enumerate(MUTATIONS)}


def _ts(value) -> float | None:
    return value.timestamp() if value else None


def experiment_summary(exp: Experiment) -> dict[str, Any]:
    return {
        **experiment_payload(exp),
        "name": exp.name,
        "config": exp.config,
        "individuals_created": exp.individuals_created,
        "boost_remaining": exp.boost_remaining,
        "started": _ts(exp.started),
        "ended": _ts(exp.ended),
        "elapsed_seconds": exp.elapsed_seconds(),
    }


def snapshot(exp: Experiment) -> dict[str, Any]:
    """Trained individuals as parallel arrays, ordered by the time they finished training.

    `t` is seconds since the run started; mutation is an index into `mutations` (-1: an
    initial individual). Children in training come separately in `inflight`.
    """
    t0 = _ts(exp.started) or 0.0
    rows = (
        exp.individuals.exclude(trained=None)
        .order_by("trained", "number")
        .values_list("pk", "number", "parent_id", "state", "val_accuracy", "trained", "mutation")
    )
    cols: dict[str, list] = {k: [] for k in ("id", "number", "parent", "state", "acc", "t", "mut")}
    for pk, number, parent, state, acc, trained, mutation in rows.iterator(chunk_size=5000):
        cols["id"].append(pk)
        cols["number"].append(number)
        cols["parent"].append(parent)
        cols["state"].append(STATE_CODES.get(state, 3))
        cols["acc"].append(acc)
        cols["t"].append(round(trained.timestamp() - t0, 3))
        cols["mut"].append(MUTATION_CODES.get(mutation, -1))
    return {
        "experiment": experiment_summary(exp),
        "last_seq": exp.last_seq,
        "server_time": time.time(),  # the page's clocks (elapsed, worker offline) use it
        "lease_seconds": settings.EVOLAB_LEASE_SECONDS,
        "mutations": list(MUTATIONS),
        "states": [s for s, _ in sorted(STATE_CODES.items(), key=lambda kv: kv[1])],
        "individuals": cols,
        "inflight": inflight(exp),
    }


def costs(exp: Experiment) -> dict[str, list]:
    """What each trained individual cost, for the accuracy-vs-cost chart: FLOPs to train (4
    significant digits) and parameters, by id. Apart from the snapshot, which it would make
    ~45% larger at 50,000 individuals: the page asks for it once the snapshot is drawn."""
    rows = exp.individuals.exclude(trained=None).values_list("pk", "flops", "params")
    cols: dict[str, list] = {"id": [], "flops": [], "params": []}
    for pk, flops, params in rows.iterator(chunk_size=5000):
        cols["id"].append(pk)
        cols["flops"].append(float(f"{flops:.4g}"))
        cols["params"].append(params)
    return cols


def inflight(exp: Experiment) -> list[dict[str, Any]]:
    rows = exp.individuals.training().order_by("number")
    steps = exp.config.get("steps_per_child")
    return [
        {
            "id": ind.pk,
            "number": ind.number,
            "worker": ind.worker,
            "parent": ind.parent_id,
            "mutation": ind.mutation or None,
            "step": ind.progress_step,
            "steps": steps,
            "loss": ind.progress_loss,
            "born": _ts(ind.born),
            "lease_expires": _ts(ind.lease_expires),
            "attempt": ind.attempts,
        }
        for ind in rows
    ]


def individual_detail(exp: Experiment, number: int) -> dict[str, Any] | None:
    """One individual with its DNA and its parent's, so the page can diff them by stable id."""
    ind = exp.individuals.select_related("parent").filter(number=number).first()
    if ind is None:
        return None
    parent = ind.parent
    return {
        "id": ind.pk,
        "number": ind.number,
        "state": ind.state,
        "mutation": ind.mutation or None,
        "mutation_description": ind.mutation_description,
        "mutation_records": ind.mutation_records,
        "val_accuracy": ind.val_accuracy,
        "test_accuracy": ind.test_accuracy,
        "flops": ind.flops,
        "params": ind.params,
        "steps": ind.steps,
        "train_seconds": ind.train_seconds,
        "worker": ind.worker,
        "loss_curve": ind.loss_curve,
        "weights_kept": bool(ind.weights),
        "seeded_from": seed_origin(ind),
        "dna": ind.dna,
        "shapes": dna_shapes(ind.dna, exp.cfg.in_shape),
        "parent": None
        if parent is None
        else {
            "id": parent.pk,
            "number": parent.number,
            "val_accuracy": parent.val_accuracy,
            "dna": parent.dna,
            "shapes": dna_shapes(parent.dna, exp.cfg.in_shape),
        },
    }


def dna_shapes(dna_json: dict, in_shape) -> dict[str, list[int]]:
    """(channels, height, width) after every vertex and conv edge, for the diagram's labels."""
    try:
        dna = DNA.from_json(dna_json, in_shape=in_shape)
        at = shapes(dna, in_shape)
    except (DNAError, KeyError, ValueError):
        return {}  # the diagram still draws, without shapes
    out = {vid: list(shape) for vid, shape in at.items()}
    for edge in dna.edges:
        if edge.kind == "conv" and edge.src in at:
            out[edge.id] = list(edge.out_shape(at[edge.src]))
    return out


LINEAGE_SQL = """
WITH RECURSIVE chain(id, parent_id, depth) AS (
    SELECT id, parent_id, 0 FROM {table} WHERE experiment_id = %s AND number = %s
    UNION ALL
    SELECT i.id, i.parent_id, c.depth + 1 FROM {table} i JOIN chain c ON i.id = c.parent_id
    WHERE c.depth < %s
)
SELECT id FROM chain ORDER BY depth
"""
MAX_LINEAGE = 100_000


def lineage(exp: Experiment, number: int) -> list[dict[str, Any]] | None:
    """Ancestry of an individual, itself first, back to an initial individual (ALGORITHM.md §1).

    One recursive query on both PostgreSQL and SQLite, so a deep chain costs one round trip.
    Each link carries the mutation that made it and its accuracy change against its parent.
    """
    sql = LINEAGE_SQL.format(table=connection.ops.quote_name(Individual._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(sql, [exp.pk, number, MAX_LINEAGE])
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return None
    fields = ("pk", "number", "mutation", "val_accuracy", "state", "parent_id",
              "seeded_from_run", "seeded_from_number")  # fmt: skip
    rows = {r[0]: r for r in Individual.objects.filter(pk__in=ids).values_list(*fields)}
    chain = [rows[pk] for pk in ids]
    out = []
    for i, (pk, num, mutation, acc, state, parent, run, seed) in enumerate(chain):
        parent_acc = chain[i + 1][3] if i + 1 < len(chain) else None
        delta = acc - parent_acc if acc is not None and parent_acc is not None else None
        out.append(
            {"id": pk, "number": num, "mutation": mutation or None, "val_accuracy": acc}
            | {"state": state, "delta": delta, "initial": parent is None}
            | {"seeded_from": None if run is None else {"experiment": run, "number": seed}}
        )
    return out


def mutation_analytics(exp: Experiment) -> list[dict[str, Any]]:
    """Per mutation (ALGORITHM.md §3): children it made, first-tournament survival, mean Δaccuracy.

    A child survived its first tournament iff it ever had a child of its own (only a winner
    becomes a parent, and the dead cannot win); it lost it iff it died childless. Children
    still alive and childless have not been decided yet and are left out of the rate.
    """
    rows = list(exp.individuals.values_list("pk", "parent_id", "mutation", "val_accuracy", "state"))
    acc = {pk: a for pk, _, _, a, _ in rows}
    parents = {parent for _, parent, _, _, _ in rows if parent is not None}
    stats = defaultdict(lambda: {"applied": 0, "survived": 0, "decided": 0, "deltas": []})
    for pk, parent, mutation, a, state in rows:
        if not mutation:
            continue
        s = stats[mutation]
        s["applied"] += 1
        if pk in parents:
            s["survived"] += 1
            s["decided"] += 1
        elif state == State.DEAD:
            s["decided"] += 1
        if a is not None and acc.get(parent) is not None:
            s["deltas"].append(a - acc[parent])
    return [_analytics_row(name, stats.get(name)) for name in MUTATIONS]


def _analytics_row(name: str, s: dict | None) -> dict[str, Any]:
    s = s or {"applied": 0, "survived": 0, "decided": 0, "deltas": []}
    deltas = s["deltas"]
    return {
        "mutation": name,
        "applied": s["applied"],
        "survived": s["survived"],
        "decided": s["decided"],
        "survival_rate": s["survived"] / s["decided"] if s["decided"] else None,
        "mean_delta": sum(deltas) / len(deltas) if deltas else None,
    }


def best_so_far(exp: Experiment, points: int | None = None) -> list[tuple[int, float, float]]:
    """The paper's curve as its steps: (individuals trained, seconds since start, best acc).

    Only the points where the best rose are returned (plus the last), which is the whole
    curve for a step plot; `points` thins it further for sparklines.
    """
    t0 = _ts(exp.started) or 0.0
    rows = (
        exp.individuals.exclude(trained=None)
        .exclude(val_accuracy=None)
        .order_by("trained", "number")
        .values_list("val_accuracy", "trained")
    )
    steps, best, n, last = [], None, 0, None
    for acc, trained in rows.iterator(chunk_size=5000):
        n += 1
        last = (n, round(trained.timestamp() - t0, 3))
        if best is None or acc > best:
            best = acc
            steps.append((n, last[1], acc))
    if last and steps and steps[-1][0] != last[0]:
        steps.append((last[0], last[1], best))
    if points and len(steps) > points:
        stride = len(steps) / points
        steps = [steps[int(i * stride)] for i in range(points)] + [steps[-1]]
    return steps


def compare(experiments: list[Experiment]) -> list[dict[str, Any]]:
    """Runs side by side (the paper's repeatability figure) with their final numbers."""
    return [
        {
            "id": exp.pk,
            "name": exp.name,
            "status": exp.status,
            "dataset": exp.config.get("dataset"),
            "individuals_trained": exp.individuals_trained,
            "best_val_accuracy": exp.best_val_accuracy,
            "test_accuracy": exp.test_accuracy,
            "total_flops": exp.total_flops,
            "elapsed_seconds": exp.elapsed_seconds(),
            "curve": best_so_far(exp),
        }
        for exp in experiments
    ]


def sparkline_points(exp: Experiment, width: int = 120, height: int = 28) -> str:
    """SVG polyline points of the best-so-far steps: x by individuals trained, y spanning the
    curve's own range (a run stuck near 20% still shows its rises; the column has the value)."""
    steps = best_so_far(exp, points=60)
    if not steps:
        return ""
    total = max(1, steps[-1][0])
    low, high = steps[0][2], steps[-1][2]
    span = (high - low) or 1.0
    coords, prev_y = [], None
    for n, _, acc in steps:
        x = round(width * n / total, 1)
        y = round(height - 2 - (height - 4) * (acc - low) / span, 1)
        if prev_y is not None:
            coords.append(f"{x},{prev_y}")  # a step: run flat, then rise
        coords.append(f"{x},{y}")
        prev_y = y
    return " ".join(coords)
