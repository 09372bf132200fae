"""The web app's population store: the same three calls as the headless runner's
`evolab.evolution.memory_store.MemoryStore` (claim, commit, fail), over the database.

A claim selects, kills and conceives under the experiment's row lock (claims.py); the child
trains outside any transaction under a lease (leases.py); its commit is fenced by the
lease's token (commits.py). `evolab.evolution.memory_store.evolve` runs the paper's loop
over either store.
"""

from __future__ import annotations

from dataclasses import dataclass

from evolab.evolution.memory_store import DONE, WAIT
from evolab.evolution.step import TrainedChild

from . import claims, commits, leases
from .children import Claim

__all__ = ["DONE", "WAIT", "Claim", "DatabaseStore"]


@dataclass(frozen=True)
class DatabaseStore:
    experiment_id: int
    worker: str = "worker"

    def claim(self) -> Claim | str:
        return claims.claim(self.experiment_id, self.worker)

    def commit(self, claim: Claim, child: TrainedChild) -> bool:
        return commits.commit(claim, child)

    def fail(self, claim: Claim, reason: str) -> None:
        leases.fail(claim, reason)

    def heartbeat(self, claim: Claim, step: int, loss: float | None) -> bool:
        return leases.heartbeat(claim, step, loss)
