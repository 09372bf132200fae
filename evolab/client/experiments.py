"""Runs (experiments) and their individuals."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from .http import EvoLabError
from .routes import TERMINAL
from .watch import Event, events

if TYPE_CHECKING:  # pragma: no cover
    from . import EvoLab


# A DNA file to import (a path or its bytes), or one with its weights (.safetensors).
Source = Union[str, Path, bytes]  # noqa: UP007 (a runtime alias)
Seed = Union[Source, tuple[Source, Union[Source, None]]]  # noqa: UP007


def _field(key: str) -> property:
    return property(lambda self: self.data.get(key), doc=f"The API's `{key}`.")


class _Record:
    """An object of the API: its JSON in `.data`, any field also as `obj["field"]`."""

    def __init__(self, lab: EvoLab, data: dict[str, Any]) -> None:
        self._lab, self.data = lab, data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


class Individual(_Record):
    """One individual of a run: the API's fields in `.data` (id, number, parent, mutation,
    state, val_accuracy, test_accuracy, flops, params, dna, ...), the common ones as
    attributes."""

    def __repr__(self) -> str:
        return (
            f"<Individual {self.id} #{self.number} {self.state} val_accuracy={self.val_accuracy}>"
        )

    id = _field("id")
    experiment = _field("experiment")
    number = _field("number")
    state = _field("state")
    val_accuracy = _field("val_accuracy")
    test_accuracy = _field("test_accuracy")
    flops = _field("flops")
    params = _field("params")
    dna = _field("dna")

    def refresh(self) -> Individual:
        self.data = self._lab.http.call("individuals.retrieve", self.id)
        return self

    def download(self, path: str | Path | None = None, format: str = "bundle") -> Path:
        """Save the individual as `format`: bundle (zip: predict.py, model.torchscript.pt,
        model.pt, model.safetensors, model.onnx, dna.json, metrics.json, README.md),
        safetensors, torchscript (TorchScript), exported-program (torch.export), onnx or dna.
        `path`: a file, or a directory for the server's file name (None: the current one).
        Returns the file written."""
        return self._lab.http.download("individuals.download", self.id, {"format": format}, path)


class Individuals(list):
    """A run's individuals (a list of `Individual`), in birth order."""

    def to_pandas(self):
        """A pandas DataFrame, one row per individual (DNA as a JSON string)."""
        try:
            import pandas
        except ImportError:
            raise ImportError(
                "Individuals.to_pandas() needs pandas, which is not installed: "
                "pip install pandas (or use the list of .data dicts)."
            ) from None
        rows = [{**ind.data, "dna": json.dumps(ind.data.get("dna"))} for ind in self]
        return pandas.DataFrame(rows, columns=list(rows[0]) if rows else None)


class Run(_Record):
    """One run: the API's fields in `.data` (id, name, team, status, config,
    individuals_trained, best, total_flops, test_accuracy, ensemble_test_accuracy, last_seq,
    ...), the common ones as attributes. Control methods update it in place."""

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.name!r} {self.status} trained={self.individuals_trained}>"

    id = _field("id")
    name = _field("name")
    team = _field("team")
    status = _field("status")
    config = _field("config")
    individuals_trained = _field("individuals_trained")
    last_seq = _field("last_seq")
    test_accuracy = _field("test_accuracy")
    ensemble_test_accuracy = _field("ensemble_test_accuracy")

    @property
    def best_accuracy(self) -> float | None:
        return (self.data.get("best") or {}).get("val_accuracy")

    @property
    def terminal(self) -> bool:
        """Finished, stopped or failed: nothing more will happen."""
        return self.status in TERMINAL

    # --- reading ---------------------------------------------------------------------
    def refresh(self) -> Run:
        self.data = self._lab.http.call("experiments.retrieve", self.id)
        return self

    @property
    def individuals(self) -> Individuals:
        """Every individual of the run (fetched now), in birth order."""
        rows = self._lab.http.pages("experiments.individuals", self.id, {"ordering": "number"})
        return Individuals(Individual(self._lab, row) for row in rows)

    def best(self) -> Individual:
        """The individual with the best validation accuracy so far."""
        self.refresh()
        best = (self.data.get("best") or {}).get("id")
        if best is None:
            raise EvoLabError(None, f"Run {self.id} has no trained individual yet.")
        return Individual(self._lab, self._lab.http.call("individuals.retrieve", best))

    def events(self, after: int = 0) -> list[Event]:
        """The logged events after `after` over REST (no live wait, no progress)."""
        out: list[Event] = []
        while True:
            page = self._lab.http.call("experiments.events", self.id, params={"after": after})
            out += [Event(e["seq"], e["kind"], e["data"]) for e in page["events"]]
            if not page["events"] or out[-1].seq >= page["last_seq"]:
                return out
            after = out[-1].seq

    # --- control ---------------------------------------------------------------------
    def _control(self, verb: str) -> Run:
        self.data = self._lab.http.call(f"experiments.{verb}", self.id)
        return self

    def start(self) -> Run:
        return self._control("start")

    def pause(self) -> Run:
        return self._control("pause")

    def resume(self) -> Run:
        return self._control("resume")

    def stop(self) -> Run:
        return self._control("stop")

    def evaluate(self) -> Run:
        """Measure a stopped run's best and ensemble on the test split, as a finished run's
        are, in a worker: `.refresh()` shows them once `evaluating` is false again."""
        return self._control("evaluate")

    def clone(self) -> Run:
        """A new queued run with the same config (start it with `.start()`)."""
        return Run(self._lab, self._lab.http.call("experiments.clone", self.id))

    def update(self, **changes: Any) -> Run:
        """Change any of name, notes (Markdown), tags (the whole list), archived and, before
        the run starts, config (these settings replace the run's own). All or nothing."""
        self.data = self._lab.http.call("experiments.update", self.id, json=changes)
        return self

    def delete(self) -> None:
        """Delete the run with its individuals and stored weights (stop a running run first)."""
        self._lab.http.request("experiments.delete", self.id).close()

    def set_workers(self, workers: int) -> Run:
        self.data = self._lab.http.call("experiments.workers", self.id, json={"workers": workers})
        return self

    def import_dna(self, dna: str | Path | bytes, weights: str | Path | bytes | None = None):
        """Seed the initial population of a run that has not started with a DNA file (JSON,
        as downloaded with format="dna"), optionally with its weights (.safetensors)."""
        files = {"dna": ("dna.json", _read(dna), "application/json")}
        if weights is not None:
            files["weights"] = ("model.safetensors", _read(weights), "application/octet-stream")
        return Individual(self._lab, self._lab.http.call("experiments.seed", self.id, files=files))

    def download_ensemble(self, path: str | Path | None = None) -> Path:
        """The top-k ensemble (config ensemble_k) as one zip bundle."""
        return self._lab.http.download(
            "experiments.download", self.id, {"format": "ensemble"}, path
        )

    def download_report(self, path: str | Path | None = None, format: str | None = None) -> Path:
        """The run report as one self-contained HTML file (opens offline), or as a PDF: the
        population over time, the best's architecture and lineage, accuracy against FLOPs,
        mutation statistics, budget, config, test accuracy, repeats of its config. `format`
        "html" or "pdf"; by default "pdf" when `path` ends in .pdf, else "html"."""
        if format is None:
            format = "pdf" if str(path or "").lower().endswith(".pdf") else "html"
        return self._lab.http.download("experiments.report", self.id, {"format": format}, path)

    # --- following -------------------------------------------------------------------
    def watch(
        self,
        after: int = 0,
        *,
        progress: bool = True,
        until_terminal: bool = True,
        timeout: float | None = None,
    ) -> Iterator[Event]:
        """Yield the run's events live over the websocket: every logged event after `after`
        (0: from the start) in order, exactly once, and progress messages (seq None) unless
        `progress=False`. Reconnects by itself, replaying from the last seq seen. Stops after
        the event that ends the run (finished, stopped, failed) unless `until_terminal=False`;
        raises TimeoutError after `timeout` seconds."""

        def check() -> tuple[str, int]:
            self.refresh()
            return self.status, self.last_seq

        http = self._lab.http
        yield from events(
            http.url, http.token, self.id, after,
            progress=progress, until_terminal=until_terminal, timeout=timeout, check=check,
        )  # fmt: skip

    def wait(self, timeout: float | None = None, progress: bool | None = None) -> Run:
        """Block until the run is finished, stopped or failed (then refreshed and returned;
        look at `.status`). `progress`: a progress bar of the budget (individuals trained),
        by default when in a terminal or a notebook and tqdm is installed. Raises
        TimeoutError after `timeout` seconds."""
        self.refresh()
        if self.terminal:
            return self
        bar = _bar(self) if (progress if progress is not None else _interactive()) else None
        try:
            for event in self.watch(self.last_seq, progress=False, timeout=timeout):
                if bar is not None:
                    _update_bar(bar, event)
        finally:
            if bar is not None:
                bar.close()
        return self.refresh()


class Experiments:
    """`lab.experiments`: create, list and get runs."""

    def __init__(self, lab: EvoLab) -> None:
        self._lab = lab

    def create(
        self,
        name: str,
        dataset: str | None = None,
        population: int | None = None,
        workers: int | None = None,
        start: bool = True,
        team: int | None = None,
        from_run: int | Run | None = None,
        best: int | None = None,
        import_dna: Sequence[Seed] = (),
        **config: Any,
    ) -> Run:
        """Create a run (and start it unless `start=False`). Any other setting goes in
        `config` by its name: steps_per_child, max_individuals, max_seconds, max_flops,
        selection, seed, ... (docs/ALGORITHM.md); unset ones take the server's defaults.
        `team`: the team's id, needed when you are a member of several. `from_run`: a warm
        start from that run of the same team, its alive individuals, or its `best` k.
        `import_dna`: DNA files (a path or bytes, or a (DNA, weights) pair) that join the
        initial population before it starts, as `Run.import_dna` adds them; if the server
        refuses one, the new run is deleted again and the refusal raised."""
        if import_dna:
            if from_run is not None:
                raise ValueError("from_run or import_dna, not both")
            files = _seed_files(import_dna)  # read first: a missing file creates nothing
            run = self.create(name, dataset, population, workers, start=False, team=team,
                              **config)  # fmt: skip
            _seed(run, files)
            return run.start() if start else run.refresh()
        settings = {"dataset": dataset, "population": population, "workers": workers, **config}
        body: dict[str, Any] = {
            "name": name,
            "config": {k: v for k, v in settings.items() if v is not None},
            "start": start,
        }
        if team is not None:
            body["team"] = team
        if from_run is not None:
            source = from_run.id if isinstance(from_run, Run) else from_run
            body["start_from"] = {"experiment": source, "individuals": "alive"}
            if best is not None:
                body["start_from"] |= {"individuals": "best", "k": best}
        elif best is not None:
            raise ValueError("best=K needs from_run: the run whose best K seed the new one")
        return Run(self._lab, self._lab.http.call("experiments.create", json=body))

    def list(
        self,
        status: str | None = None,
        team: int | None = None,
        ordering: str = "-created",
        limit: int | None = None,
        tag: str | None = None,
        archived: str | None = None,
    ) -> list[Run]:
        """Runs of your teams, newest first (`ordering`: created, name, status, dataset,
        owner, best_val_accuracy, individuals_trained, ..., '-' for descending); archived
        runs only with archived="true" (or "any")."""
        params = {"status": status, "team": team, "ordering": ordering, "tag": tag,
                  "archived": archived}  # fmt: skip
        rows = self._lab.http.pages("experiments.list", params=params, limit=limit)
        return [Run(self._lab, row) for row in rows]

    def get(self, id: int) -> Run:
        return Run(self._lab, self._lab.http.call("experiments.retrieve", id))


def _read(source: str | Path | bytes) -> bytes:
    if isinstance(source, bytes):
        return source
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise EvoLabError(None, f"Cannot read {source}: {exc.strerror}") from None


def _seed_files(seeds: Sequence[Seed]) -> list[tuple[str, bytes, bytes | None]]:
    """(what to call it in a message, DNA bytes, weights bytes or None) of each seed."""
    out = []
    for seed in seeds:
        dna, weights = seed if isinstance(seed, tuple) else (seed, None)
        shown = "DNA bytes" if isinstance(dna, bytes) else str(dna)
        out.append((shown, _read(dna), None if weights is None else _read(weights)))
    return out


def _seed(run: Run, files: list[tuple[str, bytes, bytes | None]]) -> None:
    """Import each file into the new, queued `run`; if one is refused, delete the run
    (none of it stays) and raise the refusal, naming the file."""
    try:
        for shown, dna, weights in files:
            try:
                run.import_dna(dna, weights)
            except EvoLabError as exc:
                message = f"{shown}: {exc.message} (the new run was deleted again)"
                raise EvoLabError(exc.status, message, exc.body) from None
    except BaseException:
        run.delete()
        raise


def _interactive() -> bool:
    return "ipykernel" in sys.modules or bool(getattr(sys.stderr, "isatty", lambda: False)())


def _bar(run: Run):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    total = run.config.get("max_individuals")
    return tqdm(
        total=total, initial=run.individuals_trained, desc=f"run {run.id}", unit="ind",
        dynamic_ncols=True,
    )  # fmt: skip


def _update_bar(bar, event: Event) -> None:
    data = event.data
    if event.kind == "birth":
        bar.update(1)
        acc = data.get("val_accuracy")
        best = max(acc or 0.0, getattr(bar, "_evolab_best", 0.0))
        bar._evolab_best = best
        bar.set_postfix(best=f"{best:.4f}", refresh=False)
    elif event.kind == "status":
        bar.n = data.get("individuals_trained", bar.n)
        best = (data.get("best") or {}).get("val_accuracy")
        if best is not None:
            bar._evolab_best = best
        bar.set_postfix(status=data.get("status"), best=f"{best or 0:.4f}", refresh=False)
        bar.refresh()
