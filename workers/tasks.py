"""Celery tasks: one evolutionary step per task; thin glue between `steps` and training.

Tasks take ids, re-fetch, and are safe to run twice (STYLE.md §4): a redelivered step claims
new work or takes over an expired lease; a late duplicate cannot commit (fencing token).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.files.storage import default_storage

from evolab.experiments import chains, steps
from evolab.experiments.models import Experiment, Status

from .celery import app

log = logging.getLogger(__name__)
RETRY_WAIT_SECONDS = 1.0
PROGRESS_MIN_INTERVAL = 0.5


class LeaseLost(Exception):
    """Another worker owns this child now; stop training and drop the result."""


@app.task(name="evolab.step", acks_late=True, reject_on_worker_lost=True, bind=True)
def step(self, experiment_id: int, slot: int, token: str) -> str:
    """One step of chain `slot`; runs only while it holds the chain's token (see chains)."""
    if not chains.begin(experiment_id, slot, token):
        return "stale"  # a duplicate, a redelivery, or a chain the reconciler replaced
    exp = Experiment.objects.filter(pk=experiment_id).first()
    if exp is None or slot >= exp.cfg.workers:  # gone, or scaled down: this chain ends
        chains.end(experiment_id, slot, token)
        return "ended"
    started = time.perf_counter()
    claim = steps.claim(experiment_id, self.request.hostname or "worker")
    if claim == steps.WAIT:  # every candidate is in training: look again shortly
        chains.queue(experiment_id, [slot], countdown=RETRY_WAIT_SECONDS)
        return "wait"
    if claim != steps.DONE:
        timings = {"claim": time.perf_counter() - started}
        timings |= _train_and_commit(claim, lambda: chains.beat(experiment_id, slot, token))
        after = time.perf_counter()
        steps.collect_garbage(experiment_id, keep_best=max(exp.cfg.ensemble_k, 1))
        exp.refresh_from_db(fields=["status"])
        if exp.status == Status.RUNNING:
            chains.queue(experiment_id, [slot])
        if "commit" in timings:  # committed: keep what the step cost, phase by phase
            now = time.perf_counter()
            steps.record_timings(
                claim.individual_id,
                {**timings, "retention_and_next": now - after, "step": now - started},
            )
        if exp.status == Status.RUNNING:
            return "stepped"
    chains.end(experiment_id, slot, token)
    steps.settle(experiment_id)
    return "done"


@app.task(name="evolab.reconcile", ignore_result=True)
def reconcile() -> int:
    """Periodic: re-queue chains lost with the broker or with a killed worker."""
    return len(chains.reconcile(chains.broker_has_message))


def _train_and_commit(claim: steps.Claim, beat_chain) -> dict[str, float]:
    """Train and commit the claimed child; its phase timings ({} if not committed)."""
    from .child import train_claimed_child

    last = [0.0]

    def progress(step_done: int, loss: float | None) -> None:
        # At most two reports a second per child (the loop's last report can follow a
        # regular one closely; the commit that comes next carries the final step anyway).
        if time.monotonic() - last[0] < PROGRESS_MIN_INTERVAL:
            return
        last[0] = time.monotonic()
        beat_chain()
        if not steps.heartbeat(claim, step_done, loss):
            raise LeaseLost()

    try:
        child = train_claimed_child(claim, default_storage, settings, progress)
    except LeaseLost:
        log.info("child %s: lease lost during training", claim.individual_id)
        return {}
    except Exception as exc:  # a child that cannot train must not stop the run
        log.exception("child %s failed", claim.individual_id)
        steps.fail(claim, f"{type(exc).__name__}: {exc}")
        return {}
    started = time.perf_counter()
    if not steps.commit(claim, child):
        return {}
    return {**child.timings, "commit": time.perf_counter() - started}


@app.task(name="evolab.evaluate_final", acks_late=True, reject_on_worker_lost=True)
def evaluate_final(experiment_id: int) -> None:
    """Test accuracy of the best by validation and of the top-k ensemble (PAPER.md §6)."""
    from .child import evaluate_on_test

    evaluate_on_test(experiment_id, default_storage, settings)
