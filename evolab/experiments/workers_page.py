"""The workers page: every live worker process (processes.py), what it trains now and how busy
it is, and the experiment page's note when a run asks for more workers than there are.

Another team's work stays invisible: a process training a child of a run the user's teams do
not hold shows as "busy", with no run, number or id; the same for a child that no longer
exists, so the two cannot be told apart.
"""

from __future__ import annotations

from typing import Any

import redis
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from evolab.accounts.services import teams_for

from . import processes
from .models import Individual
from .views import experiment_for

# What a process's record shows of itself (the rest of it is not for the page).
SHOWN = ("name", "host", "pid", "node", "queues", "device", "device_kind", "cores", "threads",
         "rss_bytes", "gpu_bytes", "started", "beat", "children_done",
         "children_per_hour")  # fmt: skip
POLL_SECONDS = 3


def _child(ind: Individual) -> dict[str, Any]:
    exp = ind.experiment
    return {
        "experiment": exp.pk,
        "experiment_name": exp.name,
        "team": exp.team.name,
        "id": ind.pk,
        "number": ind.number,
        "mutation": ind.mutation or None,
        "step": ind.progress_step,
        "steps": exp.config.get("steps_per_child"),
        "loss": ind.progress_loss,
        "state": ind.state,
    }


def workers_for(user) -> dict[str, Any]:
    """The live processes as `user` may see them, with a summary."""
    try:
        records = processes.live()
    except redis.RedisError as exc:
        return {"reachable": False, "error": type(exc).__name__, "processes": [], "summary": {}}
    wanted = {r["child"]["individual"] for r in records if isinstance(r.get("child"), dict)}
    mine = teams_for(user).values_list("pk", flat=True)
    children = {
        ind.pk: ind
        for ind in Individual.objects.filter(
            pk__in=wanted, experiment__team__in=mine
        ).select_related("experiment__team")
    }
    rows = []
    for record in records:
        row = {k: record.get(k) for k in SHOWN}
        child = record.get("child")
        if not isinstance(child, dict):
            row |= {"state": "idle", "child": None}
        elif (ind := children.get(child.get("individual"))) is not None:
            row |= {"state": "training", "child": _child(ind)}
        else:  # another team's child (or one deleted since): busy, and nothing more
            row |= {"state": "busy", "child": None}
        rows.append(row)
    count = {s: sum(r["state"] == s for r in rows) for s in ("training", "busy", "idle")}
    summary = {
        "processes": len(rows),
        **count,
        "children_per_hour": round(sum(r["children_per_hour"] or 0 for r in rows), 1),
    }
    return {"reachable": True, "live_seconds": processes.LIVE_SECONDS, "processes": rows,
            "summary": summary}  # fmt: skip


@login_required
def workers_page(request: HttpRequest) -> HttpResponse:
    context = {"poll_seconds": POLL_SECONDS, "queue": processes.run_queue()}
    return render(request, "experiments/workers.html", context)


@login_required
def workers_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(workers_for(request.user))


@login_required
def experiment_capacity(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(processes.capacity(experiment_for(request, pk)))
