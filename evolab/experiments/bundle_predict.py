"""predict.py: the class of images, with the model of this EvoLab bundle and nothing of EvoLab.

    python predict.py digit.png                 # an image file (PNG, JPEG, ...: needs Pillow)
    python predict.py images.npy                # one image or a batch, in the dataset's range
    python predict.py images.npy --range 0 255  # values on another scale than the dataset's
    python predict.py images.npy --json         # machine-readable: one object per image

Needs PyTorch (it loads model.torchscript.pt with torch.jit.load); without PyTorch, or with
--onnx, it runs model.onnx with onnxruntime and numpy. The preprocessing is the one recorded
in metrics.json ("preprocessing"), the same as EvoLab applied when it trained and tested:
values of the dataset's raw range (digits 0..16; 0..255 for IDX, CIFAR and image files) are
rounded to 8-bit pixels, then each channel is normalised with the training mean and std.
A .npy array may be one image (C, H, W), (H, W) or (H, W, C), a batch (N, C, H, W),
(N, H, W) or (N, H, W, C), or flattened rows (N, C*H*W) such as scikit-learn's digits.data.
In an ensemble bundle (ensemble.json) every member votes; ties go to the larger mean
softmax probability, as in EvoLab.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHUNK = 1000  # images per forward pass, as EvoLab evaluates
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
NPY_TYPES = {"u1": "uint8", "i1": "int8", "i2": "int16", "i4": "int32", "i8": "int64",
             "f2": "float16", "f4": "float32", "f8": "float64", "b1": "bool"}  # fmt: skip

try:
    import torch
except ImportError:  # onnxruntime instead
    torch = None


def fail(message: str) -> None:
    sys.exit(f"predict.py: {message}")


def read_spec() -> tuple[dict, list[Path]]:
    """(metrics or ensemble summary, member folders) of this bundle."""
    if (HERE / "ensemble.json").is_file():
        spec = json.loads((HERE / "ensemble.json").read_text())
        return spec, [HERE / "members" / str(n) for n in spec["members"]]
    return json.loads((HERE / "metrics.json").read_text()), [HERE]


# ------------------------------------------------------------------------------ reading input
def read_npy(path: Path):
    """A .npy file as a float64 tensor (numpy's loader when numpy is there, else our own:
    the format is a short header, then the raw values)."""
    try:
        import numpy
    except ImportError:
        numpy = None
    if numpy is not None:
        array = numpy.load(path, allow_pickle=False).astype("float64")
        return array if torch is None else torch.from_numpy(array)
    data = path.read_bytes()
    if data[:6] != b"\x93NUMPY":
        fail(f"{path.name}: not a .npy file")
    size = 2 if data[6] == 1 else 4
    end = 8 + size + int.from_bytes(data[8 : 8 + size], "little")
    header = ast.literal_eval(data[8 + size : end].decode("latin1"))
    descr, shape = header["descr"], tuple(header["shape"])
    if descr[0] == ">" or descr[1:] not in NPY_TYPES:
        fail(f"{path.name}: values of type {descr} are not read without numpy")
    values = torch.frombuffer(bytearray(data[end:]), dtype=getattr(torch, NPY_TYPES[descr[1:]]))
    if header["fortran_order"]:
        return values.reshape(shape[::-1]).permute(*reversed(range(len(shape)))).double()
    return values.reshape(shape).double()


def as_batch(x, spec: dict, name: str):
    """(N, C, H, W) from any of the layouts the module docstring lists."""
    c, (h, w) = spec["channels"], spec["size"]
    shape = tuple(x.shape)
    if shape in ((c * h * w,), (h, w)) and (len(shape) == 1 or c == 1):
        return x.reshape(1, c, h, w)
    if len(shape) == 2 and shape[1] == c * h * w:
        return x.reshape(shape[0], c, h, w)
    if shape == (c, h, w):
        return x.reshape(1, c, h, w)
    if shape == (h, w, c):
        return x.transpose(2, 0, 1)[None] if torch is None else x.permute(2, 0, 1)[None]
    if len(shape) == 3 and c == 1 and shape[1:] == (h, w):
        return x.reshape(shape[0], 1, h, w)
    if len(shape) == 4 and shape[1:] == (c, h, w):
        return x
    if len(shape) == 4 and shape[1:] == (h, w, c):
        return x.transpose(0, 3, 1, 2) if torch is None else x.permute(0, 3, 1, 2)
    fail(f"{name}: shape {shape} is not an image or a batch of ({c}, {h}, {w})")


def read_image(path: Path, spec: dict):
    """An image file as pixels 0..255 in the network's layout (1, C, H, W)."""
    try:
        from PIL import Image
    except ImportError:
        fail(f"{path.name}: reading image files needs Pillow (pip install pillow); or pass .npy")
    (h, w), colour = spec["size"], spec["colour"]
    with Image.open(path) as img:
        img = img.convert("RGB" if colour == "RGB" else "L")
        if img.size != (w, h) and spec["fit"] == "pad" and img.width <= w and img.height <= h:
            canvas = Image.new(img.mode, (w, h))
            canvas.paste(img, ((w - img.width) // 2, (h - img.height) // 2))
            img = canvas
        elif img.size != (w, h):
            if spec["fit"] != "bilinear":
                print(f"{path.name}: {img.width}x{img.height} resized to {w}x{h}", file=sys.stderr)
            img = img.resize((w, h), Image.Resampling.BILINEAR)
        raw = img.tobytes()
    depth = 3 if colour == "RGB" else 1
    if torch is None:
        import numpy

        x = numpy.frombuffer(raw, numpy.uint8).reshape(h, w, depth).transpose(2, 0, 1)
        x = numpy.repeat(x, 3, 0) if colour == "grey-as-RGB" else x
        return x[None].astype("float64")
    x = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(h, w, depth).permute(2, 0, 1)
    return (x.repeat(3, 1, 1) if colour == "grey-as-RGB" else x)[None].double()


def read_inputs(paths: list[str], spec: dict, raw_range) -> list[tuple[str, object]]:
    """(name, float64 batch in 0..255 pixel units, not yet rounded) of every input file."""
    out = []
    for name in paths:
        path = Path(name)
        if not path.is_file():
            fail(f"{name}: no such file")
        if path.suffix.lower() == ".npy":
            lo, hi = raw_range
            x = as_batch(read_npy(path), spec, path.name)
            if x.min() < lo or x.max() > hi:
                print(f"{path.name}: values outside {lo:g}..{hi:g} (the dataset's range): clipped;"
                      " pass --range LO HI for another scale", file=sys.stderr)  # fmt: skip
            x = (x.clip(lo, hi) - lo) * (255.0 / (hi - lo))  # as EvoLab scaled the dataset
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            x = read_image(path, spec)
        else:
            fail(f"{name}: expected an image file ({', '.join(sorted(IMAGE_SUFFIXES))}) or .npy")
        out.append((path.name, x))
    return out


# ------------------------------------------------------------------------------ the models
def torch_logits(batch, spec: dict, folders: list[Path]) -> list:
    """Each member's logits (float32) for a float64 batch of 0..255 values."""
    mean = torch.tensor(spec["mean"], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(spec["std"], dtype=torch.float32).view(1, -1, 1, 1)
    scale, shift = 1.0 / (255.0 * std), mean / std  # EvoLab's normalise, to the last bit
    pixels = batch.round().clip(0, 255).to(torch.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch 2.14 deprecates torch.jit; loading works
        models = [torch.jit.load(str(f / "model.torchscript.pt")).eval() for f in folders]
    out = []
    with torch.inference_mode():
        for model in models:
            parts = [model(p.float().mul_(scale).sub_(shift)) for p in pixels.split(CHUNK)]
            out.append(torch.cat(parts).float())
    return out


def onnx_logits(batch, spec: dict, folders: list[Path]) -> list:
    import numpy
    import onnxruntime

    mean = numpy.asarray(spec["mean"], numpy.float32).reshape(1, -1, 1, 1)
    std = numpy.asarray(spec["std"], numpy.float32).reshape(1, -1, 1, 1)
    scale, shift = numpy.float32(1.0) / (numpy.float32(255.0) * std), mean / std
    x = numpy.asarray(batch).round().clip(0, 255).astype(numpy.uint8).astype(numpy.float32)
    x = x * scale - shift
    out = []
    for folder in folders:
        if not (folder / "model.onnx").is_file():
            fail(f"{folder.name}: this architecture has no model.onnx; install PyTorch")
        session = onnxruntime.InferenceSession(str(folder / "model.onnx"))
        parts = numpy.array_split(x, max(1, len(x) // CHUNK))
        out.append(numpy.concatenate([session.run(None, {"image": p})[0] for p in parts]))
    return out


def vote(logits: list) -> list[int]:
    """argmax of one model; majority vote of several, ties to the larger mean probability."""
    if torch is None:
        import numpy

        stacked = numpy.stack(logits)
        probs = numpy.exp(stacked - stacked.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        votes = (stacked.argmax(-1)[..., None] == numpy.arange(stacked.shape[-1])).sum(0)
        return [int(c) for c in (votes + 0.5 * probs.mean(0)).argmax(-1)]
    stacked = torch.stack(logits)
    votes = torch.nn.functional.one_hot(stacked.argmax(-1), stacked.shape[-1]).sum(0).float()
    return [int(c) for c in (votes + 0.5 * stacked.softmax(-1).mean(0)).argmax(-1)]


def main(argv: list[str] | None = None) -> None:
    global torch
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("inputs", nargs="+", help="image files or .npy arrays")
    parser.add_argument("--range", nargs=2, type=float, metavar=("LO", "HI"),
                        help=".npy values' scale (default: the dataset's raw_range)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON list")
    parser.add_argument("--onnx", action="store_true", help="run model.onnx with onnxruntime")
    args = parser.parse_args(argv)
    spec, folders = read_spec()
    prep = spec["preprocessing"]
    raw_range = args.range or prep["raw_range"]
    if raw_range[1] <= raw_range[0]:
        fail("--range: HI must be larger than LO")
    if args.onnx:
        torch = None
    inputs = read_inputs(args.inputs, prep, raw_range)
    run = onnx_logits if torch is None else torch_logits
    classes, rows = spec["classes"], []
    for name, batch in inputs:
        for i, c in enumerate(vote(run(batch, prep, folders))):
            item = f"{name}[{i}]" if len(batch) > 1 else name
            rows.append({"input": item, "class": c, "name": classes[c] if c < len(classes) else ""})
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            print(f"{row['input']}: {row['class']} ({row['name']})")


if __name__ == "__main__":
    main()
