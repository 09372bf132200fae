"""Team datasets uploaded from the browser: a tiny archive in memory becomes `upload:<id>`,
indexed in place by the eager Celery task; hostile archives are refused with a clear
message and leave no file; only the team sees and uses its uploads (404 elsewhere)."""

import io
import stat
import tarfile
import zipfile

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from evolab.datasets import load_dataset
from evolab.experiments import services, uploads
from evolab.experiments.config import UNKNOWN_DATASET, ConfigError
from evolab.experiments.models import TeamDataset
from tests.unit.workers.cifar_files import cifar10_members
from tests.unit.workers.idx_files import NAMES, arrays, idx_bytes

from .conftest import api


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path, eager, django_capture_on_commit_callbacks):
    settings.EVOLAB_DATA_DIR = tmp_path / "data"
    settings.EVOLAB_UPLOAD_MAX_IMAGES = 40
    settings.EVOLAB_UPLOAD_MAX_PIXELS = 64 * 64
    settings.EVOLAB_UPLOAD_MAX_MB = 4
    settings.EVOLAB_UPLOAD_MAX_RATIO = 50.0
    return settings.EVOLAB_DATA_DIR


def png(colour=(255, 0, 0), size=(8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def zipped(entries: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in entries.items():
            zf.writestr(name, blob)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return out.getvalue()


def classes_zip(per_class: int = 5, prefix: str = "") -> dict[str, bytes]:
    return {
        f"{prefix}{cls}/{i}.png": png(colour)
        for cls, colour in (("cat", (255, 0, 0)), ("dog", (0, 0, 255)))
        for i in range(per_class)
    }


def upload(user, blob: bytes, name: str = "pets", team=None, filename="set.zip", captured=None):
    body = {"name": name, "file": SimpleUploadedFile(filename, blob)}
    if team is not None:
        body["team"] = team.pk
    return api(user).post("/api/datasets/", body, format="multipart")


def uploaded(user, blob, capture, **kw) -> TeamDataset:
    with capture(execute=True):  # the indexing task is queued after the commit
        r = upload(user, blob, **kw)
    assert r.status_code == 201, r.content
    return TeamDataset.objects.get(pk=r.json()["id"])


def test_a_class_folder_zip_becomes_a_ready_team_dataset_a_run_uses(
    team, member, data_dir, django_capture_on_commit_callbacks
):
    pillow_limit = Image.MAX_IMAGE_PIXELS
    ds = uploaded(member, zipped(classes_zip(prefix="pets/")), django_capture_on_commit_callbacks)
    assert Image.MAX_IMAGE_PIXELS == pillow_limit  # the upload's limit is not left behind
    assert (ds.state, ds.kind, ds.images, ds.classes, ds.progress) == (
        "ready",
        "folder",
        10,
        2,
        100,
    )
    assert ds.fingerprint.startswith("sha256:") and len(ds.archive_sha256) == 64
    assert sorted(p.name for p in uploads.folder(ds.pk).iterdir()) == ["data.npz"]
    data = load_dataset(ds.config_name, data_dir, seed=1)
    assert data.in_shape == (3, 32, 32) and data.classes == ["cat", "dog"]
    exp = services.create_experiment(team, member, "on upload", {"dataset": ds.config_name})
    assert exp.dataset_split["fingerprint"] == ds.fingerprint == data.split["fingerprint"]
    listed = {d["name"]: d for d in api(member).get("/api/datasets/").json()["results"]}
    assert listed[ds.config_name]["state"] == "ready" and listed[ds.config_name]["team"] == team.pk
    assert "digits" in listed and str(data_dir) not in str(listed)


def test_idx_and_cifar_archives_are_indexed_with_their_test_split(
    member, data_dir, settings, django_capture_on_commit_callbacks
):
    settings.EVOLAB_UPLOAD_MAX_IMAGES = 200
    a = arrays()
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w:gz") as tf:
        for role, name in NAMES.items():
            blob = idx_bytes(a[role])
            info = tarfile.TarInfo(f"mnist/{name}")
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))
    ds = uploaded(member, tar.getvalue(), django_capture_on_commit_callbacks, name="digits28",
                  filename="m.tar.gz")  # fmt: skip
    assert (ds.state, ds.kind, ds.images, ds.classes) == ("ready", "idx", 80, 10), ds.message
    split = load_dataset(ds.config_name, data_dir, seed=1).split
    assert split["test"] == 20 and split["train"] + split["val"] == 60
    cifar = zipped(cifar10_members())
    ds = uploaded(member, cifar, django_capture_on_commit_callbacks, name="c10")
    assert (ds.state, ds.kind, ds.images) == ("ready", "cifar", 130), ds.message


HOSTILE = {
    "dotdot": ({**classes_zip(), "../evil/x.png": png()}, "'..'"),
    "absolute": ({**classes_zip(), "/tmp/x.png": png()}, "absolute"),
    "too deep": ({**classes_zip(), "cat/sub/x.png": png()}, "too deep"),
    "not an image": (
        {**classes_zip(), "cat/fake.png": b"not a png at all"},
        "not a readable image",
    ),
    "wrong suffix": ({**classes_zip(), "cat/notes.txt": b"hello"}, "not an image"),
    "too many": (classes_zip(per_class=21), "more than the limit (40)"),
    "too large": ({**classes_zip(), "cat/big.png": png(size=(65, 64))}, "65 x 64 pixels"),
    "bomb": ({**classes_zip(), "cat/bomb.png": bytes(2 << 20)}, "zip bomb"),
    "one class": ({f"cat/{i}.png": png() for i in range(3)}, "two class folders"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_archive_is_refused_with_a_clear_message_and_nothing_kept(
    case, member, data_dir, django_capture_on_commit_callbacks
):
    entries, expected = HOSTILE[case]
    ds = uploaded(member, zipped(entries), django_capture_on_commit_callbacks)
    assert ds.state == "failed" and expected in ds.message, ds.message
    assert str(data_dir) not in ds.message and not uploads.folder(ds.pk).exists()
    with pytest.raises(ConfigError, match="not ready"):
        services.create_experiment(ds.team, member, "x", {"dataset": ds.config_name})


def test_links_and_non_archives_are_refused(member, django_capture_on_commit_callbacks):
    link = zipped(classes_zip(), links=("cat/passwd.png",))
    assert "links are refused" in uploaded(member, link, django_capture_on_commit_callbacks).message
    junk = uploaded(member, b"plain text", django_capture_on_commit_callbacks, name="junk")
    assert junk.state == "failed" and "not a zip or tar" in junk.message


def test_an_archive_over_the_size_limit_is_refused_at_upload(member, settings):
    settings.EVOLAB_UPLOAD_MAX_MB = 1
    r = upload(member, bytes(2 << 20))
    assert r.status_code in (400, 413) and "limit (1 MB)" in str(r.json())
    assert not TeamDataset.objects.exists()


def test_viewers_cannot_upload_and_another_team_is_404(team, viewer, member, other_team):
    assert upload(viewer, zipped(classes_zip())).status_code == 403
    assert upload(member, zipped(classes_zip()), team=other_team).status_code == 404
    assert upload(viewer, zipped(classes_zip()), team=team).status_code == 403


def test_admins_rename_and_delete_members_cannot_other_teams_get_404(
    team, member, admin, outsider, other_team, django_capture_on_commit_callbacks
):
    ds = uploaded(member, zipped(classes_zip()), django_capture_on_commit_callbacks)
    url = f"/api/datasets/{ds.pk}/"
    assert api(member).get(url).json()["state"] == "ready"
    assert api(member).patch(url, {"name": "x"}, format="json").status_code == 403
    assert api(member).delete(url).status_code == 403
    for method in ("get", "patch", "delete"):
        assert getattr(api(outsider), method)(url).status_code == 404
    names = [d["name"] for d in api(outsider).get("/api/datasets/").json()["results"]]
    assert ds.config_name not in names
    r = api(admin).patch(url, {"name": "renamed"}, format="json")
    assert r.status_code == 200 and r.json()["name"] == "renamed"
    # Another team's dataset is refused in a run config like an unknown one.
    for name in (ds.config_name, "upload:999999"):
        with pytest.raises(ConfigError) as refused:
            services.create_experiment(other_team, outsider, "steal", {"dataset": name})
        assert refused.value.errors == {"dataset": [UNKNOWN_DATASET]}
    steal = {"name": "s", "config": {"dataset": ds.config_name}}
    r = api(outsider).post("/api/experiments/", steal, format="json")
    assert r.status_code == 400 and UNKNOWN_DATASET in str(r.json())
    exp = services.create_experiment(team, member, "uses it", {"dataset": ds.config_name})
    assert api(admin).delete(url).status_code == 409  # a queued run still uses it
    exp.status = "finished"
    exp.save()
    assert api(admin).delete(url).status_code == 204
    assert not TeamDataset.objects.exists() and not uploads.folder(ds.pk).exists()


def test_the_page_lists_only_the_teams_uploads(
    client, member, outsider, django_capture_on_commit_callbacks
):
    ds = uploaded(member, zipped(classes_zip()), django_capture_on_commit_callbacks, name="mine")
    client.force_login(member)
    page = client.get("/experiments/datasets/").content.decode()
    assert "mine" in page and ds.config_name in page and "upload-form" in page
    assert " style=" not in page and "<script>" not in page
    client.force_login(outsider)
    assert "mine" not in client.get("/experiments/datasets/").content.decode()


def test_the_stored_arrays_never_need_pickle(member, django_capture_on_commit_callbacks):
    ds = uploaded(member, zipped(classes_zip()), django_capture_on_commit_callbacks)
    with np.load(uploads.folder(ds.pk) / "data.npz", allow_pickle=False) as npz:
        assert npz["x"].shape == (10, 3, 32, 32) and list(npz["classes"]) == ["cat", "dog"]
