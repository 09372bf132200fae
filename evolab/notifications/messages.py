"""What a notice says: the webhook's JSON body and the e-mail's subject and text, built
once per delivery from the run as it was when the event happened."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from evolab.experiments.models import Experiment

from .models import Event


def _percent(value: float | None) -> str:
    return "none yet" if value is None else f"{100 * value:.1f}%"


def run_url(exp: Experiment) -> str:
    return f"{settings.EVOLAB_SITE_URL.rstrip('/')}/experiments/{exp.pk}/"


def payload(exp: Experiment, event: str, detail: dict) -> dict:
    """The body every attempt sends (plus the delivery's id, added when it is sent)."""
    return {
        "event": event,
        "occurred": timezone.now().isoformat(),
        "summary": summary(exp, event, detail),
        "run": {
            "id": exp.pk,
            "name": exp.name,
            "team": {"id": exp.team_id, "name": exp.team.name},
            "status": exp.status,
            "url": run_url(exp),
            "individuals_trained": exp.individuals_trained,
            "best_val_accuracy": exp.best_val_accuracy,
            "test_accuracy": exp.test_accuracy,
            "target_accuracy": exp.config.get("target_accuracy"),
        },
        "detail": detail,
    }


def summary(exp: Experiment, event: str, detail: dict) -> str:
    best = _percent(exp.best_val_accuracy)
    name = f"Run “{exp.name}”"
    if event == Event.FINISHED:
        why = f" ({detail['reason']} budget spent)" if detail.get("reason") else ""
        return (f"{name} finished{why}: best validation accuracy {best} after "
                f"{exp.individuals_trained} individuals.")  # fmt: skip
    if event == Event.FAILED:
        return f"{name} failed: {detail.get('failure_reason') or exp.failure_reason or '?'}."
    if event == Event.STOPPED:
        return f"{name} was stopped after {exp.individuals_trained} individuals (best {best})."
    if event == Event.TARGET_REACHED:
        target = _percent(exp.config.get("target_accuracy"))
        return f"{name} reached its target accuracy of {target}: best {best}."
    return (f"{name} has not improved for {detail['individuals']} individuals: best {best} "
            f"since individual {detail['since']} of {detail['trained']}.")  # fmt: skip


def email(body: dict) -> tuple[str, str]:
    """Subject and text of the e-mail for a payload."""
    run = body["run"]
    title = Event(body["event"]).label
    subject = f"[EvoLab] {title}: {run['name']}"[:200]
    text = (
        f"{body['summary']}\n\n"
        f"Team: {run['team']['name']}\nStatus: {run['status']}\n"
        f"Best validation accuracy: {_percent(run['best_val_accuracy'])}\n"
        f"Individuals trained: {run['individuals_trained']}\n\n{run['url']}\n\n"
        "You receive this because of your notification settings in EvoLab "
        f"({settings.EVOLAB_SITE_URL.rstrip('/')}/accounts/settings/).\n"
    )
    return subject, text
