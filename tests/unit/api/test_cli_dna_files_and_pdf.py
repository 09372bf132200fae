"""The CLI in one go (issue #18): `evolab runs create ... --dna FILE [--weights FILE]` makes a
run seeded from DNA files (created queued, the files imported, then started unless
--no-start: here it is not started, as a start needs the broker), a refused file leaves no
run behind; `evolab report RUN -o FILE.pdf` writes the PDF."""

import json

import pytest

from evolab import cli
from evolab.accounts.services import create_token
from evolab.evolution.dna import DNA
from evolab.experiments.models import Experiment, Status

from .test_seed_imports import seed_dna, weights_for


@pytest.fixture
def logged_in(member, live_server, monkeypatch, tmp_path):
    monkeypatch.setenv("EVOLAB_URL", live_server.url)
    monkeypatch.setenv("EVOLAB_TOKEN", create_token(member, "cli")[1])
    monkeypatch.setenv("EVOLAB_CONFIG", str(tmp_path / "none.json"))
    return tmp_path


@pytest.mark.django_db(transaction=True)
def test_runs_create_with_dna_files_and_a_report_as_pdf(logged_in, capsys):
    folder, dna = logged_in, seed_dna()
    (folder / "cat.json").write_text(json.dumps(dna.to_json()))
    (folder / "cat.safetensors").write_bytes(weights_for(dna))
    (folder / "plain.json").write_text(json.dumps(DNA.initial().to_json()))
    argv = ["runs", "create", "seeded", "--population", "3", "--no-start", "--json",
            "--dna", str(folder / "cat.json"), "--dna", str(folder / "plain.json"),
            "--weights", str(folder / "cat.safetensors")]  # fmt: skip
    assert cli.main(argv) == cli.OK
    made = json.loads(capsys.readouterr().out)
    run = Experiment.objects.get(pk=made["id"])
    assert made["status"] == run.status == Status.QUEUED and run.individuals_created == 2
    seeds = list(run.individuals.order_by("number"))
    assert [(s.number, DNA.from_json(s.dna), bool(s.weights)) for s in seeds[:2]] == [
        (0, dna, True), (1, DNA.initial(), False)
    ]  # fmt: skip

    assert cli.main(["report", str(run.pk), "-o", str(folder / "run.pdf")]) == cli.OK
    assert (folder / "run.pdf").read_bytes().startswith(b"%PDF-")
    assert cli.main(["report", str(run.pk), "-o", str(folder / "run.html")]) == cli.OK
    assert (folder / "run.html").read_text().startswith("<!doctype html>")


@pytest.mark.django_db(transaction=True)
def test_a_refused_dna_file_leaves_no_run_and_a_bad_pairing_sends_nothing(logged_in, capsys):
    folder = logged_in
    (folder / "good.json").write_text(json.dumps(seed_dna().to_json()))
    (folder / "bad.json").write_bytes(b"\x80\x04pickle")
    base = ["runs", "create", "refused", "--population", "3", "--no-start"]
    argv = [*base, "--dna", str(folder / "good.json"), "--dna", str(folder / "bad.json")]
    assert cli.main(argv) == cli.REFUSED
    err = capsys.readouterr().err
    assert "bad.json: dna: a Python pickle is refused" in err and "HTTP 400" in err
    assert "deleted again" in err and not Experiment.objects.exists()
    unpaired = [*base, "--dna", str(folder / "good.json"), "--weights", str(folder / "x.bin")]
    assert cli.main(unpaired) == cli.USAGE
    assert "goes with --dna x.json" in capsys.readouterr().err
    both = [*base, "--dna", str(folder / "good.json"), "--from-run", "1"]
    assert cli.main(both) == cli.USAGE and not Experiment.objects.exists()
