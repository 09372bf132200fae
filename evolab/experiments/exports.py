"""A built network as files other programs load with nothing of EvoLab: TorchScript
(`torch.jit.load`), a torch.export program (`torch.export.load`) and ONNX. Plain torch, no
Django: downloads.py caches what these make; bench/exports.py times them.

Every file takes float32 images (N, C, H, W) with any batch size N and returns logits.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings

import torch

EXAMPLE_BATCH = 2  # traced and exported with this batch; the batch dimension stays free
MAX_BATCH = 65_536


class NotExportable(Exception):
    """The architecture has no ONNX export (the bundle then ships without model.onnx)."""


def _example(in_shape) -> torch.Tensor:
    return torch.zeros((EXAMPLE_BATCH, *in_shape))


def _batch_dim() -> dict:
    return {0: torch.export.Dim("batch", min=1, max=MAX_BATCH)}


def torchscript(model: torch.nn.Module, in_shape) -> bytes:
    """TorchScript by `torch.jit.trace`: the network's forward has no data-dependent control
    flow (every shape decision is made when it is built), so the trace is the whole graph
    and any batch size runs through it. torch 2.14 deprecates torch.jit; it still writes
    and loads these files, and that is what a TorchScript user asks for."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.filterwarnings("ignore", message=".*torch.jit.*deprecated", category=Warning)
        traced = torch.jit.trace(model.eval(), _example(in_shape))
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
    return buffer.getvalue()


def exported_program(model: torch.nn.Module, in_shape) -> bytes:
    """The `torch.export` program (a .pt2 archive), batch size dynamic."""
    program = torch.export.export(
        model.eval(), (_example(in_shape),), dynamic_shapes=(_batch_dim(),)
    )
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue()


def onnx(model: torch.nn.Module, in_shape) -> bytes:
    """ONNX (input "image", output "logits"), batch size dynamic; NotExportable if the
    exporter refuses the architecture."""
    try:
        program = torch.onnx.export(
            model.eval(),
            (_example(in_shape),),
            dynamo=True,
            dynamic_shapes=(_batch_dim(),),
            input_names=["image"],
            output_names=["logits"],
            verbose=False,
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.onnx")
            program.save(path)
            with open(path, "rb") as fh:
                return fh.read()
    except Exception as exc:  # any exporter failure means "no ONNX for this one"
        raise NotExportable("This architecture does not export to ONNX.") from exc
