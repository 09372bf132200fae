"""The database store's two claim-and-commit paths leave the same rows and events: the
portable one (plain statements, SQLite) and PostgreSQL's (one server-side call each,
sql/evolab_birth.sql). This module runs one run of drafted steps and writes what it left,
canonically, to EVOLAB_PATHS_DUMP when that is set; tests/integration/
test_claim_paths_on_both_databases.py runs it on SQLite and on PostgreSQL and compares."""

from __future__ import annotations

import json
import os

import pytest

from evolab.evolution.step import TrainedChild
from evolab.experiments import claims, commits, services
from evolab.experiments.children import Claim
from evolab.experiments.models import Event, Experiment, Status

CONFIG = {"dataset": "digits", "population": 4, "workers": 1, "steps_per_child": 10,
          "max_individuals": 16, "seed": 3, "plateau_individuals": 3}  # fmt: skip
VOLATILE = {"born", "died", "trained", "worker"}  # timestamps, and the host that trained it


def _accuracy(number: int) -> float:
    return [0.5, 0.25, 0.75, 0.5, 0.125][number % 5]  # ties, and a plateau for the boost


def _run(team, member) -> Experiment:
    exp = services.create_experiment(team, member, "paths", CONFIG)
    Experiment.objects.filter(pk=exp.pk).update(status=Status.RUNNING)
    while isinstance(claim := claims.claim(exp.pk, "w"), Claim):
        child = TrainedChild(_accuracy(claim.number), 1e6 + claim.number, 10, 10, 0.1, b"w" * 8)
        assert commits.commit(claim, child)
    assert claim == claims.DONE
    return Experiment.objects.get(pk=exp.pk)


def canonical(exp: Experiment) -> dict:
    """Rows and events with database ids replaced by birth numbers, volatile fields dropped."""
    number = dict(exp.individuals.values_list("pk", "number"))
    rows = [
        {
            "number": i.number,
            "parent": number.get(i.parent_id),
            "state": i.state,
            "mutation": i.mutation,
            "description": i.mutation_description,
            "records": i.mutation_records,
            "dna": i.dna,
            "val_accuracy": i.val_accuracy,
            "steps": i.steps,
            "reset": i.reset_weights,
            "attempts": i.attempts,
            "weights_size": i.weights_size,
            "flops": i.flops,
        }  # fmt: skip
        for i in exp.individuals.order_by("number")
    ]

    def ids(data: dict) -> dict:
        out = {k: v for k, v in data.items() if k not in VOLATILE}
        for key in ("id", "parent"):
            if out.get(key) is not None:
                out[key] = number[out[key]]
        if isinstance(out.get("best"), dict):
            out["best"] = {**out["best"], "id": number.get(out["best"]["id"])}
        return out

    events = [
        {"seq": e.seq, "kind": e.kind, "data": ids(e.data)}
        for e in Event.objects.filter(experiment=exp).order_by("seq")
    ]
    counters = {
        "created": exp.individuals_created, "trained": exp.individuals_trained,
        "best": number.get(exp.best_id), "best_val": exp.best_val_accuracy,
        "best_changed_at": exp.best_changed_at, "boost": exp.boost_remaining,
        "last_seq": exp.last_seq, "flops": exp.total_flops, "weights": exp.weights_bytes,
    }  # fmt: skip
    return {"individuals": rows, "events": events, "experiment": counters}


@pytest.mark.django_db(transaction=True)
def test_a_run_of_drafted_steps_leaves_consistent_rows_and_events(team, member):
    exp = _run(team, member)
    dump = canonical(exp)
    assert dump["experiment"]["created"] == dump["experiment"]["trained"] == 16
    seqs = [e["seq"] for e in dump["events"]]
    assert seqs == list(range(1, exp.last_seq + 1))  # gap-free
    kinds = [e["kind"] for e in dump["events"]]
    assert kinds.count("birth") == 16 and kinds.count("death") == 12
    # The best is the youngest of the most accurate (the engine's tie rule).
    best = max(dump["individuals"], key=lambda r: (r["val_accuracy"], r["number"]))
    assert dump["experiment"]["best"] == best["number"]
    assert any(len(r["records"]) == 5 for r in dump["individuals"])  # the plateau boost ran
    if os.environ.get("EVOLAB_PATHS_DUMP"):
        with open(os.environ["EVOLAB_PATHS_DUMP"], "w") as fh:
            json.dump(dump, fh, indent=1, sort_keys=True)
