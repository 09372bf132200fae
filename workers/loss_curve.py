"""A child's training-loss curve, kept after it trained: at most `points` (step, loss) pairs.

The planned number of steps is known before training starts, so the steps are cut into at
most `points` equal buckets and each bucket keeps the mean of the losses read in it (a
smoothed curve, not every `n`-th noisy batch) and the last step it saw. Nothing is stored
per step, and only losses the loop reads anyway are used (every step on a CPU, every
`CUDA_NAN_CHECK_EVERY` steps on a GPU): the curve costs no extra synchronisation.
"""

from __future__ import annotations

import math

MAX_POINTS = 100


class LossCurve:
    def __init__(self, steps: int, points: int = MAX_POINTS) -> None:
        self.width = max(1, math.ceil(max(steps, 1) / max(points, 1)))  # steps per bucket
        self.points: list[tuple[int, float]] = []
        self._bucket, self._sum, self._count, self._last = -1, 0.0, 0, 0

    def add(self, step: int, loss: float) -> None:
        """The loss of step `step` (1-based, increasing); non-finite losses are left out."""
        if not math.isfinite(loss):
            return
        bucket = (step - 1) // self.width
        if bucket != self._bucket:
            self._close()
            self._bucket = bucket
        self._sum, self._count, self._last = self._sum + loss, self._count + 1, step

    def _close(self) -> None:
        if self._count:
            self.points.append((self._last, float(f"{self._sum / self._count:.5g}")))
        self._sum, self._count = 0.0, 0

    def finish(self) -> tuple[tuple[int, float], ...]:
        """The curve so far, as (step, mean loss) pairs in step order."""
        self._close()
        self._bucket = -1
        return tuple(self.points)
