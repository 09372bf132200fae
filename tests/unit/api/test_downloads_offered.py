"""What the experiment page offers to download: sizes where known, which files a first click
has to wait for, what cannot be had; another team's ids are 404s."""

from evolab.experiments.models import Individual

from .conftest import api, store_individual


def offered(client, exp, number: int) -> dict:
    r = client.get(f"/experiments/{exp.pk}/individuals/{number}/downloads.json")
    assert r.status_code == 200
    return {entry["format"]: entry for entry in r.json()["downloads"]}


def test_the_page_knows_what_is_made_already_and_its_size(client, viewer, exp):
    ind = store_individual(exp, 0, 0.8)
    gone = store_individual(exp, 1, 0.7)
    Individual.objects.filter(pk=gone.pk).update(weights="", weights_size=0, state="dead")
    client.force_login(viewer)
    before = offered(client, exp, 0)
    assert list(before) == ["bundle", "safetensors", "torchscript", "exported-program", "onnx",
                            "dna"]  # fmt: skip
    assert before["safetensors"]["bytes"] == ind.weights_size and before["safetensors"]["ready"]
    assert before["torchscript"]["bytes"] is None and not before["torchscript"]["ready"]
    assert before["bundle"]["bytes"] is None  # until its parts are made
    script = api(viewer).get(f"/api/individuals/{ind.pk}/download/?format=torchscript").content
    after = offered(client, exp, 0)["torchscript"]
    assert after["ready"] and after["bytes"] == len(script)
    assert after["filename"] == f"evolab-{exp.pk}-0.torchscript.pt"
    assert after["url"] == f"/api/individuals/{ind.pk}/download/?format=torchscript"
    dead = offered(client, exp, 1)
    assert dead["dna"]["ready"] and not dead["dna"]["note"]
    assert {dead[f]["note"] for f in dead if f != "dna"} == {"weights not kept"}
    ensemble = client.get(f"/experiments/{exp.pk}/downloads.json").json()["ensemble"]
    assert ensemble["members"] == [0] and ensemble["label"] == "top-1 ensemble (.zip)"
    assert ensemble["url"] == f"/api/experiments/{exp.pk}/download/?format=ensemble"


def test_another_team_gets_404_from_the_page_s_download_routes(client, outsider, exp):
    store_individual(exp, 0)
    client.force_login(outsider)
    assert client.get(f"/experiments/{exp.pk}/individuals/0/downloads.json").status_code == 404
    assert client.get(f"/experiments/{exp.pk}/downloads.json").status_code == 404


def test_the_ensemble_offered_is_the_one_the_run_tested_ties_to_the_younger(client, viewer, exp):
    """workers/child.py evaluates the top k by retention.RANKING; the download is the same."""
    for number, accuracy in enumerate([0.9, 0.5, 0.5]):
        store_individual(exp, number, accuracy)
    client.force_login(viewer)
    ensemble = client.get(f"/experiments/{exp.pk}/downloads.json").json()["ensemble"]
    assert ensemble["members"] == [0, 2]
