"""Seed files sent from a page: the new-experiment form's "Start from" group and a queued
run's page. Several DNA files (JSON), each with optional weights (safetensors) that go with
it by file name: `cat.json` takes `cat.safetensors` (the same name but for the extension).

Every file is checked as the API's import checks one (imports.check_seed: the same limits,
the same refusals of pickles, zip archives and ONNX) before anything is stored, and every
refusal names its file; `store` then adds them, in the order given, to the initial
population of a run that has not started (imports.add_seed), and deletes the weights it
stored if one of them fails (the caller's transaction takes the rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction

from evolab.evolution.config import EvolutionConfig
from evolab.evolution.dna import DNA

from .imports import MAX_DNA_BYTES, ImportError_, add_seed, check_seed, max_weights_bytes

NAME_CHARS = 80  # of a file's name, in a message


class SeedFilesRefused(ValueError):
    """Files that cannot seed the run: `errors` maps "dna" / "weights" to messages, each
    naming its file."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(" ".join(m for ms in errors.values() for m in ms))
        self.errors = errors


@dataclass(frozen=True)
class SeedFile:
    """A checked seed: the DNA file's name, its DNA, and its weights file (or None)."""

    name: str
    dna: DNA
    weights: Any = None  # an uploaded file: read again when stored


def shown(upload) -> str:
    return str(upload.name or "unnamed file")[:NAME_CHARS]


def _stem(upload) -> str:
    return PurePath(str(upload.name or "")).stem


def _read(upload, most: int) -> bytes:
    upload.seek(0)
    return upload.read(most + 1)


def pair(dna_files: Sequence, weights_files: Sequence) -> tuple[list[tuple], dict]:
    """(DNA file, its weights file or None) pairs, and the errors of files that pair with
    nothing: a weights file whose name no DNA file has, two files of one name."""
    errors: dict[str, list[str]] = {"dna": [], "weights": []}
    by_stem: dict[str, Any] = {}
    for upload in dna_files:
        if _stem(upload) in by_stem:
            errors["dna"].append(f"{shown(upload)}: two DNA files of this name.")
        by_stem.setdefault(_stem(upload), upload)
    weights: dict[str, Any] = {}
    for upload in weights_files:
        stem = _stem(upload)
        if stem not in by_stem:
            errors["weights"].append(
                f"{shown(upload)}: no DNA file named {stem[:NAME_CHARS]}.json to go with it "
                "(weights go with the DNA file of the same name)."
            )
        elif stem in weights:
            errors["weights"].append(f"{shown(upload)}: two weights files for {stem}.json.")
        weights.setdefault(stem, upload)
    return [(u, weights.get(_stem(u))) for u in dna_files], errors


def check(dna_files: Sequence, weights_files: Sequence, cfg: EvolutionConfig, room: int):
    """The checked seeds for a run of `cfg` with `room` places left in its initial
    population, or SeedFilesRefused naming every file that cannot be one. Reads only."""
    pairs, errors = pair(dna_files, weights_files)
    if len(dna_files) > room:
        errors["dna"].insert(
            0, f"{len(dna_files)} DNA files for {room} place{'s' * (room != 1)} left in the "
            f"initial population (population {cfg.population}): send at most {room}.",
        )  # fmt: skip
    seeds = []
    for dna_file, weights_file in pairs:
        try:
            seeds.append(_check_one(dna_file, weights_file, cfg))
        except ImportError_ as exc:
            field = "weights" if exc.field == "weights" else "dna"
            which = weights_file if field == "weights" else dna_file
            errors[field].append(f"{shown(which)}: {exc}.")
    errors = {field: messages for field, messages in errors.items() if messages}
    if errors:
        raise SeedFilesRefused(errors)
    return seeds


def _check_one(dna_file, weights_file, cfg: EvolutionConfig) -> SeedFile:
    """Reads at most one byte past each limit: check_seed refuses what is over it."""
    if not dna_file.size:
        raise ImportError_("dna", "the file is empty")
    weights = None
    if weights_file is not None:
        if not weights_file.size:
            raise ImportError_("weights", "the file is empty")
        weights = _read(weights_file, max_weights_bytes())
    dna = check_seed(_read(dna_file, MAX_DNA_BYTES), weights, cfg)
    return SeedFile(shown(dna_file), dna, weights_file)


def store(exp_id: int, seeds: Sequence[SeedFile], user) -> list:
    """Add checked seeds to run `exp_id` (queued), in order; the individuals made. If one
    fails, the weights stored so far are deleted before the error goes on."""
    made = []
    try:
        with transaction.atomic():  # all or none
            for seed in seeds:
                weights = _read(seed.weights, max_weights_bytes()) if seed.weights else None
                description = f"imported by {user} ({seed.name})"
                made.append(add_seed(exp_id, seed.dna, weights, description))
    except BaseException:
        for ind in made:
            if ind.weights:
                default_storage.delete(ind.weights)
        raise
    return made
