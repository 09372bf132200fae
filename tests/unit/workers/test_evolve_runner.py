"""The headless runner end to end: spawned asynchronous workers, a tiny budget."""

from __future__ import annotations

import json

import pytest

from evolab.evolution.mutations import MUTATIONS
from workers.evolve import config, runner

FIELDS = {
    "id", "parent", "mutation", "mutation_description", "val_accuracy", "flops", "params",
    "steps", "dna", "born_s", "died_s", "trained_s",
}  # fmt: skip


def _run(tmp_path, monkeypatch, *flags: str) -> tuple[dict, list]:
    tested = []
    real = runner.measure_test_accuracy

    def spy(store, data, k, device):
        tested.append(k)
        return real(store, data, k, device)

    monkeypatch.setattr(runner, "measure_test_accuracy", spy)
    out = tmp_path / "run.json"
    argv = ["--dataset", "digits", "--steps", "20", "--seed", "3", "--quiet", "--out", str(out)]
    assert runner.main([*argv, *flags]) == 0
    return json.loads(out.read_text()), tested


def test_a_tournament_run_writes_every_field_and_a_parent_for_every_child(tmp_path, monkeypatch):
    report, tested = _run(
        tmp_path, monkeypatch, "--population", "4", "--individuals", "12", "--workers", "2"
    )
    people = report["individuals"]
    assert len(people) == 12
    assert [p["id"] for p in people] == list(range(12))
    for p in people:
        assert FIELDS <= set(p)
        assert 0.0 <= p["val_accuracy"] <= 1.0
        assert "test_accuracy" not in p
    initial = [p for p in people if p["parent"] is None]
    assert len(initial) == 4 and all(p["mutation"] is None for p in initial)
    assert all(p["dna"]["learning_rate"] == 0.1 for p in initial)
    children = [p for p in people if p["parent"] is not None]
    assert len(children) == 8
    assert all(p["mutation"] in MUTATIONS and p["parent"] < p["id"] for p in children)
    # Ids are birth (conception) order: the initial population first.
    assert all(p["id"] >= 4 for p in children)
    by_id = {p["id"]: p for p in people}
    for p in children:  # lineage steps go on after RESET-WEIGHTS too (the web app's rule)
        assert p["steps"] == by_id[p["parent"]]["steps"] + 20
    assert sum(report["mutation_counts"].values()) == 8
    assert set(report["mutation_counts"]) == set(MUTATIONS)
    # The set-point P counts children in training: every step after the fill kills one.
    assert sum(p["died_s"] is not None for p in people) == 8
    best = report["best"]
    assert best["val_accuracy"] == max(p["val_accuracy"] for p in people)
    assert 0.0 <= best["test_accuracy"] <= 1.0
    assert best["ensemble"]["k"] == 2 and best["ensemble"]["ids"][0] == best["id"]
    assert tested == [2]  # the test split is used once, at the end
    assert report["curve"] and report["config"]["population"] == 4
    assert report["dataset_split"]["fingerprint"].startswith("sha256:")  # as the web app keeps
    assert report["totals"]["individuals"] == 12


@pytest.mark.parametrize("selection", ["aging", "random"])
def test_aging_and_random_search_runs_complete(tmp_path, monkeypatch, selection):
    report, _ = _run(
        tmp_path, monkeypatch, "--population", "3", "--individuals", "7", "--workers", "1",
        "--selection", selection, "--ensemble-k", "1",
    )  # fmt: skip
    people = report["individuals"]
    assert len(people) == 7
    if selection == "aging":
        # The oldest dies at every step.
        assert [p["id"] for p in people if p["died_s"] is not None] == [0, 1, 2, 3]
    else:
        assert all(p["parent"] is None for p in people)
        assert all(p["steps"] == 20 for p in people)
    assert report["best"]["ensemble"]["k"] == 1


@pytest.mark.parametrize(
    "flags",
    [
        ["--population", "1"],
        ["--population", "5", "--individuals", "3"],
        ["--selection", "lottery"],
        ["--steps", "0"],
        ["--dataset", "imagenet"],
        ["--dataset", "digits", "--val-size", "100"],  # digits holds out fixed fractions
        ["--dataset", "mnist", "--val-size", "0"],
        ["--individuals", "0"],
        ["--target-accuracy", "2"],
    ],
)
def test_bad_arguments_are_argparse_errors(flags, capsys):
    with pytest.raises(SystemExit) as exit_:
        config.parse_args(flags)
    assert exit_.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_the_mnist_format_sets_and_val_size_are_accepted():
    parsed = config.parse_args(["--dataset", "fashion-mnist", "--val-size", "1000"])
    assert (parsed.dataset, parsed.val_size) == ("fashion-mnist", 1000)
    assert parsed.evolution.val_size == 1000 and parsed.evolution.in_shape == (1, 28, 28)
