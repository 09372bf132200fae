"""Checkpoints: safetensors weights with DNA and metadata, never pickle."""

import json

import pytest
import torch

import evolab
from evolab.evolution.checkpoint import (
    CheckpointError,
    checkpoint_header,
    dump_checkpoint,
    load_checkpoint,
)
from evolab.evolution.network import build_network


def test_a_checkpoint_rebuilds_the_same_network(sample_dna):
    net = build_network(sample_dna, (3, 8, 8), 10).to(memory_format=torch.channels_last)
    net(torch.randn(4, 3, 8, 8))  # move BN statistics away from their defaults
    data = dump_checkpoint(net.state_dict(), sample_dna, {"val_accuracy": 0.5, "parent": 7})
    state, dna, metadata = load_checkpoint(data)
    assert dna == sample_dna
    assert metadata == {"val_accuracy": 0.5, "parent": 7}
    rebuilt = build_network(dna, (3, 8, 8), 10)
    rebuilt.load_state_dict(state)
    for key, tensor in net.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[key], tensor), key
    header = checkpoint_header(data)
    assert header["evolab_version"] == evolab.__version__ and header["schema"] == "1"
    assert json.loads(header["dna"]) == sample_dna.to_json()


def test_a_checkpoint_contains_no_pickle(sample_dna):
    data = dump_checkpoint(build_network(sample_dna, (3, 8, 8), 2).state_dict(), sample_dna, {})
    assert b"\x80\x04" not in data[:200] and data[8:9] == b"{"


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"\xff" * 64, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}"],
    ids=["empty", "text", "ones", "bad header"],
)
def test_garbage_bytes_raise_a_checkpoint_error(data):
    with pytest.raises(CheckpointError):
        load_checkpoint(data)


def test_a_corrupted_or_truncated_checkpoint_raises_a_checkpoint_error(sample_dna):
    data = dump_checkpoint(build_network(sample_dna, (3, 8, 8), 2).state_dict(), sample_dna, {})
    with pytest.raises(CheckpointError, match="truncated|unreadable"):
        load_checkpoint(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_checkpoint(data[:8] + data[8:40].replace(b"{", b"[") + data[40:])


def test_a_checkpoint_with_a_tampered_dna_is_refused(sample_dna):
    from safetensors.torch import save

    header = {"format": "evolab-individual", "schema": "1", "metadata": "{}"}
    header["dna"] = sample_dna.to_json_text().replace('"v4"', '"v99"', 1)
    with pytest.raises(CheckpointError, match="invalid"):
        load_checkpoint(save({"x": torch.zeros(1)}, metadata=header))
    with pytest.raises(CheckpointError, match="not an EvoLab"):
        load_checkpoint(save({"x": torch.zeros(1)}, metadata={"format": "other"}))


def test_non_finite_metadata_is_stored_as_null(sample_dna):
    state = build_network(sample_dna, (3, 8, 8), 2).state_dict()
    data = dump_checkpoint(state, sample_dna, {"final_loss": float("nan"), "steps": [1, 2]})
    assert load_checkpoint(data)[2] == {"final_loss": None, "steps": [1, 2]}
