"""Every event payload has one typed builder (evolab/experiments/events.py), and the keys the
live page reads of each kind (frontend/static/evolab/experiment.js, `handlers`) exist in it."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from evolab.experiments import events
from evolab.experiments.models import Experiment

JS = Path(__file__).resolve().parents[3] / "frontend" / "static" / "evolab" / "experiment.js"


def _handlers() -> dict[str, set[str]]:
    source = JS.read_text()
    block = source[
        source.index("const handlers = {") : source.index(
            "\n};", source.index("const handlers = {")
        )
    ]
    read: dict[str, set[str]] = {}
    for match in re.finditer(r"^  (\w+)\(d\) \{(.*?)(?=^  \w+\(d\) \{|\Z)", block, re.M | re.S):
        read[match.group(1)] = set(re.findall(r"\bd\.(\w+)", match.group(2)))
    return read


def _keys(kind: str) -> set[str]:
    types = [events.PAYLOADS[kind]] + ([events.TakeoverData] if kind == events.STARTED else [])
    return set().union(*(typing.get_type_hints(t) for t in types))


def test_the_page_handles_every_kind_and_reads_only_keys_the_builders_write():
    read = _handlers()
    assert set(read) == {*events.KINDS, events.PROGRESS}
    missing = {
        kind: sorted(keys - _keys(kind)) for kind, keys in read.items() if keys - _keys(kind)
    }
    assert not missing, f"the page reads keys no builder writes: {missing}"
    assert read[events.BIRTH] >= {"id", "val_accuracy", "weights_bytes_total"}  # it did parse
    assert read[events.EDITED] >= {"name", "notes", "tags", "archived", "config"}


def test_builders_write_exactly_their_typed_keys():
    assert set(events.death(1, 2.0)) == _keys(events.DEATH)
    assert set(events.started(1, 2, "w", None, None)) == set(
        typing.get_type_hints(events.StartedData)
    )
    assert set(events.takeover(1, "w", 2)) == set(typing.get_type_hints(events.TakeoverData))
    assert set(events.failed(1, "x")) == _keys(events.FAILED)
    assert set(events.progress_data(1, 2, None, 3)) == _keys(events.PROGRESS)
    assert set(events.result(1, 0.5, 0.5, [1])) == _keys(events.RESULT)
    run = Experiment(pk=1, name="n", notes="", archived=False, config={"population": 2})
    assert set(events.edited(run, ["a"])) == _keys(events.EDITED)
    # evolab_birth adds id and number on the server to what started_rest gives it.
    assert {"id", "number", *events.started_rest("w", None, None)} == set(
        typing.get_type_hints(events.StartedData)
    )
