"""Every download the experiment page offers, clicked in Chromium: the selected individual's
bundle, TorchScript, exported program, ONNX, weights and DNA, and the run's ensemble. Each
file is opened with what it claims to be; a file not made yet says "preparing…" at once."""

import io
import json
import warnings
import zipfile

import onnxruntime
import pytest
import torch
from safetensors.torch import load_file

from .test_first_run_in_the_browser import log_in
from .test_live_dashboard import open_experiment

# A page's behaviour, not the database's: on the embedded default only (the stacks' own
# differences are the integration tests'), to keep `make test` short.
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]


def _torchscript(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch 2.14 deprecates torch.jit
        return torch.jit.load(str(path))(torch.zeros(3, 1, 8, 8)).shape == (3, 10)


CHECKS = {  # link: (file name ends with, what opens it)
    "#dl-torchscript": (".torchscript.pt", _torchscript),
    "#dl-bundle": (".zip", lambda p: {"predict.py", "metrics.json", "model.torchscript.pt"}
                   <= set(zipfile.ZipFile(p).namelist())),
    "#dl-exported-program": (".pt2", lambda p: torch.export.load(str(p)).module()(
        torch.zeros(2, 1, 8, 8)).shape == (2, 10)),
    "#dl-onnx": (".onnx", lambda p: onnxruntime.InferenceSession(str(p)).get_inputs()[0].name
                 == "image"),
    "#dl-weights": (".safetensors", lambda p: "head.weight" in load_file(p)),
    "#dl-dna": (".dna.json", lambda p: "vertices" in json.loads(p.read_text())),
    "#dl-ensemble": ("-ensemble.zip", lambda p: "ensemble.json"
                     in zipfile.ZipFile(io.BytesIO(p.read_bytes())).namelist()),
}  # fmt: skip
WATCH_PREPARING = """() => { window.__preparing = [];
  new MutationObserver((changes) => { for (const c of changes) {
      const a = c.target.closest ? c.target.closest("a") : c.target.parentElement;
      if (a && a.textContent === "preparing…") window.__preparing.push(a.id); } })
    .observe(document.body, { subtree: true, childList: true, characterData: true }); }"""


def test_every_download_on_the_page_gives_a_file_that_opens(stack, page, finished_run, artefacts):
    stack, _, exp_id = finished_run
    log_in(page, stack)
    open_experiment(page, stack, exp_id)
    page.wait_for_selector("#dl-ensemble")
    weights = "#download-list [data-format=safetensors] .dl-size"
    page.wait_for_function(f"() => document.querySelector('{weights}').textContent.endsWith('B')")
    page.evaluate(WATCH_PREPARING)
    for link, (suffix, opens) in CHECKS.items():
        with page.expect_download(timeout=120_000) as download:
            page.click(link)
            if link == "#dl-torchscript":  # most likely still being made: for the eyes
                page.locator("#downloads").screenshot(path=str(artefacts / "downloads-busy.png"))
        name = download.value.suggested_filename
        assert name.startswith(f"evolab-{exp_id}-") and name.endswith(suffix), (link, name)
        path = download.value.path()
        assert opens(path), link
    # TorchScript was not made before its click: the link said so at once, then said its size.
    assert "dl-torchscript" in page.evaluate("() => window.__preparing")
    size = page.text_content("#download-list [data-format=torchscript] .dl-size")
    assert size.endswith("kB") or size.endswith("MB"), size
    page.screenshot(path=str(artefacts / f"downloads-{stack.kind}.png"), full_page=True)
