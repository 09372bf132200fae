"""E-mail notices through Django's e-mail backend (locmem in tests): to the subscribers of
the run's team who want the event, never to someone who left the team."""

from __future__ import annotations

import pytest

from evolab.accounts.models import Membership
from evolab.experiments import events, services, settling
from evolab.experiments.models import Experiment
from evolab.notifications import services as subscriptions
from evolab.notifications.delivery import attempt, fan_out
from evolab.notifications.models import Attempt

from .test_webhook_delivery import running_run


@pytest.mark.django_db
def test_a_finished_run_emails_the_subscribers_who_want_it(
    eager, team, member, viewer, admin, other_team, outsider, mailoutbox,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    subscriptions.create_email(member, team, ["finished"], mine_only=True)
    subscriptions.create_email(viewer, team, ["finished", "stopped"])
    subscriptions.create_email(admin, team, ["finished"])
    subscriptions.create_email(outsider, other_team, ["finished"])  # another team's runs
    subscriptions.create_email(admin, team, ["stopped"])
    Membership.objects.filter(user=admin).delete()  # ada left the team
    exp = running_run(team, member)
    with django_capture_on_commit_callbacks(execute=True):
        settling.settle(exp.pk)
    assert sorted(m.to[0] for m in mailoutbox) == ["mia@lab.test", "vic@lab.test"]
    mail = mailoutbox[0]
    assert mail.subject == "[EvoLab] Run finished: digits-night"
    assert "best validation accuracy 93.0% after 2 individuals" in mail.body
    assert f"/experiments/{exp.pk}/" in mail.body
    assert not Attempt.objects.filter(delivery__subscription__user=admin).exists()


@pytest.mark.django_db
def test_who_left_the_team_between_the_event_and_the_send_gets_nothing(team, member, mailoutbox):
    sub = subscriptions.create_email(member, team, ["finished"])
    exp = running_run(team, member)
    (delivery_id,) = fan_out(exp.pk, "finished", "", {"reason": "individuals"})
    Membership.objects.filter(user=member).delete()
    assert attempt(delivery_id) is None  # not retried
    (gone,) = Attempt.objects.filter(delivery__subscription=sub)
    assert gone.error == "no longer in the team" and mailoutbox == []


@pytest.mark.django_db
def test_mine_only_skips_colleagues_runs_and_a_failed_run_is_reported(
    eager, team, member, viewer, mailoutbox, django_capture_on_commit_callbacks
):
    subscriptions.create_email(viewer, team, ["failed"], mine_only=True)
    subscriptions.create_email(member, team, ["failed"])
    exp = services.create_experiment(team, member, "doomed", {"population": 2})
    Experiment.objects.filter(pk=exp.pk).update(status="failed", failure_reason="disk full")
    with django_capture_on_commit_callbacks(execute=True):
        events.emit(exp.pk, events.STATUS, events.status(Experiment.objects.get(pk=exp.pk)))
    (mail,) = mailoutbox
    assert mail.to == ["mia@lab.test"] and "Run “doomed” failed: disk full." in mail.body
