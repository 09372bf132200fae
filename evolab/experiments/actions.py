"""Which run control can act in which state: one table that the services enforce (a refusal
is a TransitionError: 409 in the API, an error message on the page), the page shows (a control
is enabled only when it can act) and the API reports (`actions` of a run).

The names are the API's verbs; the page's Boost and Reset buttons are `escape`.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from .models import TRANSITIONS, Experiment, Status, TransitionError

# Changing workers or the escape knobs means something only to a run that can still train.
ADJUSTABLE = (Status.QUEUED, Status.RUNNING, Status.PAUSING, Status.PAUSED)
STATUSES: dict[str, tuple[str, ...]] = {
    **{verb: tuple(sources) for verb, sources in TRANSITIONS.items()},
    "workers": ADJUSTABLE,
    "escape": ADJUSTABLE,
    # A finished run is evaluated by itself (settling); a stopped one on request.
    "evaluate": (Status.STOPPED,),
    "clone": tuple(Status.values),
}
ACTIONS = tuple(STATUSES)
WHAT = {"workers": "change the workers of", "escape": "use the escape knobs on"}
# An evaluation whose task was lost with the broker may be asked for again after this long.
EVALUATION_STALE = timedelta(hours=1)


def evaluating(exp: Experiment) -> bool:
    since = exp.evaluating_since
    return since is not None and timezone.now() - since < EVALUATION_STALE


def refusal(exp: Experiment, action: str) -> str | None:
    """Why `action` cannot act on the run as it is now, or None when it can."""
    if action not in STATUSES:
        return f"Unknown action {action[:40]!r}."
    if exp.status not in STATUSES[action]:
        what = WHAT.get(action, action)
        return f"Cannot {what} an experiment that is {exp.status}."
    if action == "evaluate":
        return _evaluate_refusal(exp)
    if action == "resume" and evaluating(exp):
        return "Cannot resume while its best is being evaluated: wait for the test accuracy."
    return None


def _evaluate_refusal(exp: Experiment) -> str | None:
    if evaluating(exp):
        return "Its best is being evaluated already: the test accuracy follows shortly."
    if exp.test_accuracy is not None:
        return f"Its best is evaluated already (test accuracy {exp.test_accuracy:.2%})."
    if exp.best_id is None:
        return "No individual was trained: there is nothing to evaluate."
    return None


def check(exp: Experiment, action: str) -> None:
    """Raise TransitionError, with the reason, unless `action` can act on the run now."""
    reason = refusal(exp, action)
    if reason:
        raise TransitionError(reason)


def allowed(exp: Experiment) -> list[str]:
    """The actions that can act on the run now (the page enables exactly these)."""
    return [action for action in ACTIONS if refusal(exp, action) is None]
