"""Checks of the paper's loop read from the database (the truth), shared by integration tests."""

from __future__ import annotations

import json


def events_of(stack, exp_id: int) -> list[tuple[int, str, dict]]:
    rows = stack.sql(
        "SELECT seq, kind, data FROM experiments_event WHERE experiment_id = ? ORDER BY seq",
        (exp_id,),
    )
    return [(seq, kind, json.loads(d) if isinstance(d, str) else d) for seq, kind, d in rows]


def assert_population_invariant(stack, exp_id: int, population: int) -> None:
    """At every event: never above P; once full, never below P-1 (kill and birth are separate
    events of one step, docs/ALGORITHM.md §1); no individual killed twice; gap-free sequence."""
    events = events_of(stack, exp_id)
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))
    members, full, killed = 0, False, set()
    for seq, kind, data in events:
        if kind == "started" and not data.get("takeover"):
            members += 1
        elif kind in ("death", "failed"):
            assert data["id"] not in killed, f"individual {data['id']} died twice (seq {seq})"
            killed.add(data["id"])
            members -= 1
        assert members <= population, f"population {members} > {population} at seq {seq}"
        full = full or members == population
        if full:
            assert members >= population - 1, f"population fell to {members} at seq {seq}"


def assert_parents_alive_at_birth(stack, exp_id: int) -> None:
    """Every child's parent was alive when the child was claimed (no child of the dead)."""
    events = events_of(stack, exp_id)
    died_at = {d["id"]: seq for seq, kind, d in events if kind == "death"}
    for seq, kind, data in events:
        if kind == "started" and not data.get("takeover") and data.get("parent"):
            assert died_at.get(data["parent"], seq + 1) > seq, (
                f"child {data['id']} born at seq {seq} of a parent dead since "
                f"{died_at[data['parent']]}"
            )


def assert_exact_accounting(stack, exp_id: int, population: int, budget: int) -> None:
    rows = dict(
        stack.sql(
            "SELECT state, COUNT(*) FROM experiments_individual "
            "WHERE experiment_id = ? GROUP BY state",
            (exp_id,),
        )
    )
    assert rows == {"alive": population, "dead": budget - population}, rows
    numbers = [
        n
        for (n,) in stack.sql(
            "SELECT number FROM experiments_individual WHERE experiment_id = ? ORDER BY number",
            (exp_id,),
        )
    ]
    assert numbers == list(range(budget))
    births = stack.sql(
        "SELECT COUNT(*) FROM experiments_event WHERE experiment_id = ? AND kind = 'birth'",
        (exp_id,),
    )[0][0]
    assert births == budget  # each child committed exactly once
