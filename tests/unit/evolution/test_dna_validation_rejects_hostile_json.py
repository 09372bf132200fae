"""Malformed or hostile DNA JSON always raises DNAError, never anything else."""

import copy
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evolab.evolution.dna import DNA, DNAError, Limits


def _with(change):
    """A hostile variant of the sample genome (built from the fixture in the test)."""

    def build(sample):
        obj = copy.deepcopy(sample)
        change(obj)
        return obj

    return build


def _literal(value):
    return lambda sample: value


def _edge(i, **fields):
    return lambda o: o["edges"][i].update(fields)


def _vertex(i, **fields):
    return lambda o: o["vertices"][i].update(fields)


HOSTILE = {
    "not an object": _literal([1, 2]),
    "null": _literal(None),
    "string": _literal("v0->v1"),
    "unknown top key": _with(lambda o: o.update(evil=1)),
    "missing edges": _with(lambda o: o.pop("edges")),
    "schema 2": _with(lambda o: o.update(schema=2)),
    "schema true": _with(lambda o: o.update(schema=True)),
    "next_id string": _with(lambda o: o.update(next_id="11")),
    "next_id too small": _with(lambda o: o.update(next_id=5)),
    "next_id absurd": _with(lambda o: o.update(next_id=10**30)),
    "vertices not a list": _with(lambda o: o.update(vertices={"v0": 1})),
    "vertex not an object": _with(lambda o: o["vertices"].append("v9")),
    "zero learning rate": _with(lambda o: o.update(learning_rate=0)),
    "negative learning rate": _with(lambda o: o.update(learning_rate=-0.1)),
    "nan learning rate": _with(lambda o: o.update(learning_rate=float("nan"))),
    "inf learning rate": _with(lambda o: o.update(learning_rate=float("inf"))),
    "bool learning rate": _with(lambda o: o.update(learning_rate=True)),
    "string learning rate": _with(lambda o: o.update(learning_rate="0.1")),
    "huge int learning rate": _with(lambda o: o.update(learning_rate=10**400)),
    "unknown vertex key": _with(_vertex(1, size=3)),
    "unknown activation": _with(_vertex(1, activation="gelu")),
    "unknown role": _with(_vertex(1, role="middle")),
    "non-string id": _with(_vertex(1, id=1)),
    "bad id prefix": _with(_vertex(1, id="e1")),
    "id with junk": _with(_vertex(1, id="v1; DROP TABLE")),
    "duplicate id": _with(_vertex(2, id="v1")),
    "two inputs": _with(_vertex(1, role="input")),
    "two outputs": _with(_vertex(3, role="output")),
    "no output": _with(_vertex(4, role="hidden")),
    "bn_relu input": _with(_vertex(0, activation="bn_relu")),
    "unknown edge kind": _with(_edge(2, kind="pool")),
    "unknown edge key": _with(_edge(2, weight=[1, 2])),
    "identity with conv genes": _with(_edge(2, filter_h=3.0)),
    "conv missing a gene": _with(lambda o: o["edges"][0].pop("filter_w")),
    "backbone not bool": _with(_edge(0, backbone=1)),
    "dangling edge": _with(_edge(4, src="v99")),
    "self loop": _with(_edge(4, src="v2", dst="v2")),
    "cycle": _with(_edge(5, src="v4", dst="v1")),
    "backward skip": _with(_edge(4, src="v3", dst="v1")),
    "conv skip": _with(
        _edge(4, kind="conv", channel_factor=1.0, filter_h=3.0, filter_w=3.0, stride_log2=0.0)
    ),
    "duplicate skip": _with(
        lambda o: o.update(next_id=12) or o["edges"].append(dict(o["edges"][4], id="e11"))
    ),
    "backbone cycle apart from the chain": _with(
        lambda o: o.update(
            edges=[
                {"id": "e5", "src": "v0", "dst": "v1", "kind": "identity", "backbone": True},
                {"id": "e6", "src": "v1", "dst": "v4", "kind": "identity", "backbone": True},
                {"id": "e7", "src": "v2", "dst": "v3", "kind": "identity", "backbone": True},
                {"id": "e8", "src": "v3", "dst": "v2", "kind": "identity", "backbone": True},
            ]
        )
    ),
    "broken backbone": _with(_edge(2, backbone=False)),
    "two backbone in-edges": _with(_edge(4, backbone=True)),
    "orphan vertex": _with(
        lambda o: (
            o.update(next_id=12)
            or o["vertices"].append({"id": "v11", "role": "hidden", "activation": "linear"})
        )
    ),
    "leading zero id": _with(_vertex(1, id="v01")),
    "nan channel factor": _with(_edge(0, channel_factor=float("nan"))),
    "zero channel factor": _with(_edge(0, channel_factor=0.0)),
    "absurd channel factor": _with(_edge(0, channel_factor=1e9)),
    "absurd filter": _with(_edge(0, filter_h=1e6)),
    "negative filter": _with(_edge(0, filter_w=-3.0)),
    "absurd stride": _with(_edge(0, stride_log2=40.0)),
    "negative stride": _with(_edge(0, stride_log2=-1.0)),
    "too many vertices": _with(
        lambda o: o.update(vertices=[{"id": f"v{i}"} for i in range(10_000)])
    ),
    "too many edges": _with(lambda o: o.update(edges=[{}] * 100_000)),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_dna_json_raises_dna_error(name, sample_json):
    with pytest.raises(DNAError):
        DNA.from_json(HOSTILE[name](sample_json))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[" * 100_000 + "]" * 100_000,
        '{"schema": NaN}',
        '{"learning_rate": Infinity}',
        "1" * 5000,
        b"\xff\xfe\x00garbage",
        " " * 2_000_000,
    ],
    ids=["empty", "truncated", "deep", "nan", "infinity", "giant int", "binary", "huge"],
)
def test_hostile_dna_text_raises_dna_error(text):
    with pytest.raises(DNAError):
        DNA.from_json_text(text)


@pytest.mark.parametrize(
    "name, message",
    [
        ("zero learning rate", "learning_rate must be positive"),
        ("cycle", "cycle"),
        ("backward skip", "backwards"),
        ("unknown top key", "unknown keys"),
        ("dangling edge", "dangling"),
        ("duplicate id", "duplicate id"),
        ("two inputs", "exactly one input"),
        ("broken backbone", "backbone"),
        ("orphan vertex", "backbone"),
        ("conv skip", "skip edges must be identity"),
        ("duplicate skip", "duplicate identity edge"),
        ("backbone cycle apart from the chain", "one chain"),
        ("nan channel factor", "finite"),
        ("absurd filter", "filter_h"),
        ("too many vertices", "limit is 128"),
    ],
)
def test_error_messages_say_what_is_wrong(name, message, sample_json):
    with pytest.raises(DNAError, match=message):
        DNA.from_json(HOSTILE[name](sample_json))


def test_shapes_too_wide_for_the_input_are_rejected(sample_json):
    limits = Limits(max_channels=5)
    DNA.from_json(sample_json, limits)  # fine without an input shape
    with pytest.raises(DNAError, match="channels"):
        DNA.from_json(sample_json, limits, in_shape=(3, 8, 8))


def test_a_valid_sample_passes(sample_json):
    DNA.from_json(sample_json, in_shape=(3, 32, 32))
    assert json.loads(json.dumps(sample_json)) == sample_json


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # copied per example
)
@given(path_seed=st.integers(0, 10**6), value=json_values)
def test_any_json_value_anywhere_gives_a_dna_or_a_dna_error(path_seed, value, sample_json):
    """Replace one random node of a valid genome with arbitrary JSON."""
    rng = random.Random(path_seed)
    sample_json = copy.deepcopy(sample_json)
    node, key = sample_json, None
    while isinstance(node, dict | list) and node and rng.random() < 0.8:
        parent = node
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        node = node[key]
    if key is None:
        sample_json = value
    else:
        parent[key] = value
    try:
        DNA.from_json(sample_json)
    except DNAError:
        pass
