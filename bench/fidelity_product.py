"""The product path of `bench/fidelity`: the web app's own processes, driven through its API.

One stack (tests/integration/harness.py's `Stack`: daphne, one Celery worker with one pool
process per evolution worker, beat, and SQLite + the embedded Redis or PostgreSQL + the real
Redis) serves every run of one `bench/fidelity` call, one run at a time. Each run is created
with `POST /api/experiments/` by a team member, waited for (`GET /api/experiments/<id>/`),
and read back from the API alone: the best validation accuracy, the test accuracies the
final Celery task writes once the run has finished, the individuals trained and their
`trained` times (the curve of the best validation accuracy so far).
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.harness import Stack, wait_for  # noqa: E402
from workers.evolve.config import cpu_cores  # noqa: E402

# The harness shortens leases and the reconciler's period for fault tests; a measurement
# runs with the product's own values (evolab/settings.py).
TEST_ONLY_ENV = ("EVOLAB_LEASE_SECONDS", "EVOLAB_RECONCILE_SECONDS")
TEST_RESULT_WAIT_S = 600  # the final test evaluation runs as a Celery task after the run
INDIVIDUALS_PAGE = 1000  # the API's largest page


def _when(stamp: str | None) -> float | None:
    """An API timestamp (ISO 8601) as seconds since the epoch."""
    return datetime.fromisoformat(stamp).timestamp() if stamp else None


class ProductRunner:
    """A started stack and a logged-in member: `run(config)` returns one row's facts."""

    def __init__(self, kind: str, workers: int, logs: Path, data_dir: str):
        self.kind, self.workers, self.logs = kind, workers, logs
        self._tmp = tempfile.TemporaryDirectory(prefix=f"fidelity-{kind}-")
        self.stack = Stack(kind, Path(self._tmp.name))
        for name in TEST_ONLY_ENV:
            self.stack.env.pop(name, None)
        # CPU workers with the headless runner's threads (cores // workers: 1 each when the
        # workers fill the cores, as `make run` starts them), reading the runner's files.
        threads = max(1, cpu_cores() // workers)
        self.stack.env.update(CUDA_VISIBLE_DEVICES="", EVOLAB_DEVICE="cpu")
        self.stack.env.update(EVOLAB_TORCH_THREADS=str(threads), EVOLAB_DATA_DIR=data_dir)

    def __enter__(self) -> ProductRunner:
        started = time.monotonic()
        try:
            self.stack.start(workers=1, concurrency=self.workers)
        except Exception as exc:
            hint = " (is PostgreSQL up? `make services`)" if self.kind == "postgres" else ""
            self._tmp.cleanup()
            raise SystemExit(f"could not start the {self.kind} stack{hint}: {exc}") from None
        self.session = self.stack.session("mia")
        print(
            f"[{self.kind}] web app up at {self.stack.url} in {time.monotonic() - started:.0f} s "
            f"(1 Celery worker x {self.workers} processes x "
            f"{self.stack.env['EVOLAB_TORCH_THREADS']} torch threads)",
            file=sys.stderr,
            flush=True,
        )
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.stack.stop()
        finally:
            self.logs.mkdir(parents=True, exist_ok=True)
            for log in Path(self._tmp.name).glob("*.log"):
                (self.logs / f"{self.kind}-{log.name}").write_bytes(log.read_bytes())
            self._tmp.cleanup()

    def get(self, path: str, **params) -> dict:
        r = self.session.get(f"{self.stack.url}{path}", params=params, timeout=60)
        r.raise_for_status()
        return r.json()

    def dataset_state(self, name: str) -> tuple[bool, str]:
        """Whether the web app lists `name` as ready (`GET /api/datasets/`), and why not."""
        entries = self.get("/api/datasets/", limit=1000)["results"]
        entry = next((e for e in entries if e["name"] == name), None)
        if entry is None:
            return False, f"{name} is not in GET /api/datasets/"
        return entry["state"] == "ready", entry.get("reason") or ""

    def run(self, config: dict, budget_s: float, name: str) -> dict:
        exp = self.stack.create(self.session, config, name=name)
        print(f"[{self.kind}] run {exp['id']} ({name}): {budget_s:.0f} s ...", file=sys.stderr)
        end = ("finished", "stopped", "failed")
        body = self.stack.wait_status(self.session, exp["id"], end, budget_s * 1.5 + 300)
        if body["status"] == "finished" and body["individuals_trained"]:
            body = self._wait_test(exp["id"]) or body
        individuals = self.individuals(exp["id"])
        return facts(body, individuals)

    def _wait_test(self, exp_id: int) -> dict | None:
        def tested():
            body = self.get(f"/api/experiments/{exp_id}/")
            return body if body["test_accuracy"] is not None else None

        try:
            return wait_for(tested, TEST_RESULT_WAIT_S, f"run {exp_id}'s test accuracy", 1.0)
        except AssertionError as exc:
            print(f"[{self.kind}] {exc}", file=sys.stderr)
            return None

    def individuals(self, exp_id: int) -> list[dict]:
        rows, offset = [], 0
        while True:
            page = self.get(
                f"/api/experiments/{exp_id}/individuals/",
                limit=INDIVIDUALS_PAGE,
                offset=offset,
                ordering="number",
            )
            rows += page["results"]
            offset += len(page["results"])
            if not page["next"] or not page["results"]:
                return rows


def facts(body: dict, individuals: list[dict]) -> dict:
    """One run's row, from the API's experiment and its individuals."""
    started, ended = _when(body["started"]), _when(body["ended"])
    wall = (ended - started) if started and ended else None
    measured = sorted(
        (i["trained"] - started, i["val_accuracy"])
        for i in individuals
        if started and i["trained"] and i["val_accuracy"] is not None
    )
    curve, best = [], -1.0
    for t, val in measured:  # a point each time the best validation accuracy so far rises
        if val > best:
            best = val
            curve.append({"t_s": round(t, 3), "best_val_accuracy": val})
    trained = body["individuals_trained"]
    return {
        "experiment": body["id"],
        "status": body["status"],
        "failure_reason": body["failure_reason"] or None,
        "individuals": trained,
        "failed_individuals": sum(i["state"] == "failed" for i in individuals),
        "wall_s": wall,
        "children_per_min": 60 * trained / wall if wall else None,
        "best_val": body["best"]["val_accuracy"],
        "best_test": body["test_accuracy"],
        "ensemble_test": body["ensemble_test_accuracy"],
        "curve": curve,
        "config": body["config"],
        "dataset_split": body["dataset_split"],
    }
