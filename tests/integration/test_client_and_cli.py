"""The Python client and the CLI against the real stack (issue #18, items 1 and 2): a run
created through the client, followed live over the websocket with an API token, waited
for, its individuals listed and its best downloaded and loaded; the CLI's --json output,
stored login and exit codes, with the server's message and no traceback."""

import json
import os
import stat
import subprocess
import sys
import time

import pytest
from safetensors import safe_open

import evolab.cli
from evolab.client import EvoLab, EvoLabError

from .harness import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

TOKEN = """
from django.contrib.auth.models import User
from evolab.accounts.services import create_token
print(create_token(User.objects.get(username="mia"), "client-it")[1])
"""
RUN = {"dataset": "digits", "population": 3, "workers": 1, "steps_per_child": 5,
       "max_individuals": 6, "seed": 3}  # fmt: skip


@pytest.fixture(scope="module")
def token(stack):
    return stack.manage("shell", "-c", TOKEN).strip().splitlines()[-1]


@pytest.fixture(scope="module")
def lab(stack, token):
    return EvoLab(stack.url, token=token)


@pytest.fixture(scope="module")
def run(lab):
    """One small run of mia's team, created, followed and waited for through the client:
    (the run, the events watch() yielded live before wait() took over)."""
    run = lab.experiments.create("client", start=True, **RUN)
    assert run.status in ("queued", "running"), run.data
    live = []
    for event in run.watch(timeout=120):  # live, from seq 0, over the websocket
        live.append(event)
        if event.kind == "birth":
            break  # stop watching: wait() follows the rest
    finished = run.wait(timeout=120, progress=False)
    assert finished is run and run.status == "finished", run.data
    return run, live


def test_leaving_a_watch_after_one_event_of_a_long_replay_returns_at_once(run):
    run, _ = run
    assert run.last_seq > 16  # more than websockets' default buffer of unread frames
    started = time.monotonic()
    for _event in run.watch(progress=False):
        break  # the rest of the replay is still on its way, unread
    assert time.monotonic() - started < 3  # was 10 s: the close waited on a full buffer


def test_a_run_through_the_client_from_create_to_the_downloaded_model(run, lab, tmp_path):
    run, live = run
    seqs = [e.seq for e in live if e.seq is not None]
    assert live[-1].kind == "birth" and seqs == list(range(1, len(seqs) + 1))

    # A replay of the whole log: every event once, in order, ending with the finished status.
    events = list(run.watch(after=0, progress=False, timeout=60))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].terminal and events[-1].data["status"] == "finished"
    assert events[: len(seqs)] == [e for e in live if e.seq is not None]
    assert [e.seq for e in run.watch(after=3, progress=False, timeout=60)][0] == 4

    individuals = run.individuals
    assert len(individuals) >= RUN["max_individuals"]
    assert [i.number for i in individuals] == sorted(i.number for i in individuals)
    assert sum(e.kind == "birth" for e in events) == run.individuals_trained
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            individuals.to_pandas()
    else:
        assert len(individuals.to_pandas()) == len(individuals)

    best = run.best()
    assert best.id == run.data["best"]["id"] and best.experiment == run.id
    path = best.download(tmp_path / "best.safetensors", format="safetensors")
    with safe_open(str(path), framework="pt") as weights:
        assert len(list(weights.keys())) > 0

    with pytest.raises(EvoLabError) as refused:
        lab.experiments.get(999999)
    assert refused.value.status == 404 and refused.value.message


def cli(stack, *args, env=None):
    """`python -m evolab.cli ARGS` in a fresh process without Django's settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EVOLAB_"))}
    return subprocess.run(
        [sys.executable, "-m", "evolab.cli", *args],
        cwd=ROOT,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_logs_in_lists_shows_and_refuses_with_the_servers_message(
    stack, token, run, tmp_path, monkeypatch, capsys
):
    run, _ = run
    config = tmp_path / "evolab" / "config.json"
    env = {"EVOLAB_CONFIG": str(config)}
    done = cli(stack, "login", "--url", stack.url, "--token", token, "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text()) == {"url": stack.url, "token": token}

    listed = cli(stack, "runs", "list", "--json", env=env)  # the stored login
    assert listed.returncode == 0, listed.stderr
    assert run.id in [r["id"] for r in json.loads(listed.stdout)]
    missing = cli(stack, "runs", "show", "999999", env=env)
    assert missing.returncode == 1 and missing.stdout == ""
    assert "HTTP 404" in missing.stderr and "Traceback" not in missing.stderr

    # The other commands in this process (the same main(), without a process start each).
    for name in ("EVOLAB_URL", "EVOLAB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EVOLAB_CONFIG", str(config))

    def main(*args) -> tuple[int, str, str]:
        code = evolab.cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = main("--json", "runs", "show", str(run.id))
    assert code == 0 and json.loads(out)["status"] == "finished"
    code, out, _ = main("watch", str(run.id), "--after", "0", "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [e["seq"] for e in lines] == list(range(1, len(lines) + 1))
    assert lines[-1]["data"]["status"] == "finished"
    code, out, _ = main("watch", str(run.id), "--after", "0", "--plain")
    assert code == 0 and "status: finished" in out

    dna = tmp_path / "best.json"
    assert main("download", str(run.id), "--format", "dna", "-o", str(dna))[0] == 0
    report = tmp_path / "report.html"  # the run report, one self-contained file
    assert main("report", str(run.id), "-o", str(report))[0] == 0
    html = report.read_text()
    assert f"run #{run.id}" in html and "<script" not in html and "<style>" in html
    assert html.count('<circle class="dot') == 2 * run.individuals_trained  # Figure 1, FLOPs
    assert json.loads(dna.read_text())
    code, out, _ = main("runs", "clone", str(run.id), "--json")
    clone = json.loads(out)["id"]
    assert code == 0 and clone != run.id
    code, out, err = main("import-dna", str(clone), str(dna))
    assert code == 0 and "seeded into run" in out, err
    code, out, _ = main("runs", "stop", str(clone))  # queued: stopped at once, nothing left
    assert code == 0 and out.strip() == f"run {clone}: stopped"
    code, _, err = main("runs", "pause", str(run.id))  # a finished run
    assert code == 1 and "HTTP 409" in err


def test_the_client_renames_tags_archives_and_deletes_a_run(lab):
    run = lab.experiments.create("client (clone)", start=False, **RUN)
    run.update(name="client renamed", tags=["Client"], config={"seed": 4})
    assert (run.name, run["tags"], run.config["seed"]) == ("client renamed", ["client"], 4)
    with pytest.raises(EvoLabError) as refused:
        run.update(colour="red")
    assert refused.value.status == 400 and "colour" in str(refused.value)
    run.update(archived=True)
    assert run.id not in [r.id for r in lab.experiments.list(tag="client")]
    assert [r.id for r in lab.experiments.list(tag="client", archived="true")] == [run.id]
    run.delete()
    with pytest.raises(EvoLabError) as gone:
        run.refresh()
    assert gone.value.status == 404
