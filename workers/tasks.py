"""Celery tasks: one evolutionary step per task; thin glue between the database store and
the one trainer.

Tasks take ids, re-fetch, and are safe to run twice: a redelivered step claims new work or
takes over an expired lease; a late duplicate cannot commit (fencing token).
"""

from __future__ import annotations

import logging
import time

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.storage import default_storage

from evolab.experiments import chains, commits, evaluation, retention, settling, uploads
from evolab.experiments.children import Claim
from evolab.experiments.models import Experiment, Status
from evolab.experiments.store import DONE, WAIT, DatabaseStore
from evolab.taskqueue import EVALUATE_FINAL, INDEX_DATASET, RECONCILE, STEP, app

from .child import evaluate_on_test, train_claimed_child
from .process_beat import ACTIVITY

log = logging.getLogger(__name__)
RETRY_WAIT_SECONDS = 1.0
PROGRESS_MIN_INTERVAL = 0.5


@app.task(name=STEP, acks_late=True, reject_on_worker_lost=True, bind=True)
def step(self, experiment_id: int, slot: int, token: str) -> str:
    """One step of chain `slot`; runs only while it holds the chain's token (see chains)."""
    if not chains.begin(experiment_id, slot, token):
        return "stale"  # a duplicate, a redelivery, or a chain the reconciler replaced
    exp = Experiment.objects.filter(pk=experiment_id).first()
    if exp is None or slot >= exp.cfg.workers:  # gone, or scaled down: this chain ends
        chains.end(experiment_id, slot, token)
        return "ended"
    started = time.perf_counter()
    store = DatabaseStore(experiment_id, self.request.hostname or "worker")
    claim = store.claim()
    if claim == WAIT:  # every candidate is in training: look again shortly
        chains.queue(experiment_id, [slot], countdown=RETRY_WAIT_SECONDS)
        return "wait"
    if claim != DONE:
        timings = {"claim": time.perf_counter() - started}
        ACTIVITY.training(experiment_id, claim.individual_id, claim.number, store.worker)
        try:
            timings |= _train_and_commit(store, claim, _ChainProgress(store, claim, slot, token))
        finally:
            ACTIVITY.idle(trained="commit" in timings)
        after = time.perf_counter()
        retention.collect_garbage(experiment_id, keep_best=max(exp.cfg.ensemble_k, 1))
        exp.refresh_from_db(fields=["status"])
        if exp.status == Status.RUNNING:
            chains.queue(experiment_id, [slot])
        if "commit" in timings:  # committed: keep what the step cost, phase by phase
            now = time.perf_counter()
            commits.record_timings(
                claim.individual_id,
                {**timings, "retention_and_next": now - after, "step": now - started},
            )
        if exp.status == Status.RUNNING:
            return "stepped"
    chains.end(experiment_id, slot, token)
    settling.settle(experiment_id)
    return "done"


@app.task(name=RECONCILE, ignore_result=True)
def reconcile() -> int:
    """Periodic: re-queue chains lost with the broker or with a killed worker."""
    return len(chains.reconcile(chains.broker_has_message))


class _ChainProgress:
    """The trainer's Progress for a web child: at most two reports a second, each of which
    keeps the chain and the child's lease alive; a lost lease stops training."""

    def __init__(self, store: DatabaseStore, claim: Claim, slot: int, token: str) -> None:
        self.store, self.claim, self.slot, self.token = store, claim, slot, token
        self.last = 0.0

    def progress(self, step_done: int, loss: float | None) -> bool:
        # The loop's last report can follow a regular one closely; the commit that comes
        # next carries the final step anyway.
        if time.monotonic() - self.last < PROGRESS_MIN_INTERVAL:
            return True
        self.last = time.monotonic()
        chains.beat(self.store.experiment_id, self.slot, self.token)
        return self.store.heartbeat(self.claim, step_done, loss)


def _train_and_commit(store: DatabaseStore, claim: Claim, progress) -> dict[str, float]:
    """Train and commit the claimed child; its phase timings ({} if not committed)."""
    try:
        child = train_claimed_child(claim, default_storage, settings, progress)
    except Exception as exc:  # a child that cannot train must not stop the run
        log.exception("child %s failed", claim.individual_id)
        store.fail(claim, f"{type(exc).__name__}: {exc}")
        return {}
    if child is None:
        log.info("child %s: lease lost during training", claim.individual_id)
        return {}
    started = time.perf_counter()
    if not store.commit(claim, child):
        return {}
    return {**child.timings, "commit": time.perf_counter() - started}


@app.task(name=EVALUATE_FINAL, acks_late=True, reject_on_worker_lost=True)
def evaluate_final(experiment_id: int) -> None:
    """Test accuracy of the best by validation and of the top-k ensemble (docs/ALGORITHM.md §6),
    of a finished run or of a stopped one on request; the run is marked evaluating until then."""
    try:
        evaluate_on_test(experiment_id, default_storage, settings)
    except Exception as exc:  # the run must not stay "evaluating": say why instead
        log.exception("test evaluation of experiment %s failed", experiment_id)
        evaluation.finished(experiment_id, f"{type(exc).__name__}: {exc}")
    else:
        evaluation.finished(experiment_id)


@app.task(
    name=INDEX_DATASET,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.EVOLAB_UPLOAD_INDEX_SECONDS + 30,
    time_limit=settings.EVOLAB_UPLOAD_INDEX_SECONDS + 60,
)
def index_dataset(dataset_id: int) -> str:
    """Check, decode and store an uploaded team dataset; the indexing checks its own time
    limit between images, the soft limit catches one image that decodes for too long."""
    try:
        return uploads.index(dataset_id)
    except SoftTimeLimitExceeded:
        seconds = settings.EVOLAB_UPLOAD_INDEX_SECONDS
        return uploads.fail(dataset_id, f"indexing took longer than the limit ({seconds} s)")
