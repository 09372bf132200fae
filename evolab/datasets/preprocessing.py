"""How a dataset's own files become a network's input: the machine-readable spec a download
carries in metrics.json (`preprocessing`) and the bundle's predict.py applies.

Every set is stored as uint8 pixels (base.Dataset) and fed to the network as
`(u8 / 255 - mean) / std` per channel, mean and std on the [0, 1] scale of the training split
(workers/training.py `normalise`). What differs is how the source files became those uint8
pixels, read here from the modules that do it:
- digits: scikit-learn's values are 0..16 (digits.RAW_MAX), scaled to 0..255 and rounded;
- MNIST-format IDX files and CIFAR's python batches: uint8 bytes 0..255, taken as they are;
- image folders (and uploaded class folders): decoded by Pillow, converted to RGB and
  resized to 32x32 with bilinear resampling;
- uploaded IDX files: grey images of at most 32x32, centred on a black 32x32 canvas and
  repeated into three channels; uploaded CIFAR batches: as they are.
"""

from __future__ import annotations

from . import cifar, digits, folders, idx, uploads

# How an image of another size is brought to the input size (`fit`).
EXACT, BILINEAR, PAD = "exact", "bilinear", "pad"
# What the channels hold (`colour`): one grey channel, RGB, or grey repeated into R, G and B.
GREY, RGB, GREY_AS_RGB = "grey", "RGB", "grey-as-RGB"


def _spec(raw_range: tuple[float, float], colour: str, fit: str, source: str) -> dict:
    return {"raw_range": list(raw_range), "colour": colour, "fit": fit, "source": source}


def _source(name: str, upload_kind: str | None) -> dict:
    if name == "digits":
        return _spec((0, digits.RAW_MAX), GREY, EXACT,
                     "scikit-learn load_digits(): 8x8 images of values 0..16")  # fmt: skip
    if name in idx.FORMATS:
        return _spec((0, 255), GREY, EXACT, "IDX files: uint8 pixels 0..255")
    if name in cifar.FORMATS:
        return _spec((0, 255), RGB, EXACT, "CIFAR python batches: uint8 RGB pixels 0..255")
    if name.startswith(folders.PREFIX):
        return _spec((0, 255), RGB, BILINEAR,
                     "image files, converted to RGB by Pillow and resized (bilinear)")  # fmt: skip
    if name.startswith(uploads.PREFIX) and upload_kind == "idx":
        return _spec((0, 255), GREY_AS_RGB, PAD,
                     "uploaded IDX files: uint8 grey, centred on 32x32, in 3 channels")  # fmt: skip
    if name.startswith(uploads.PREFIX) and upload_kind == "cifar":
        return _spec((0, 255), RGB, EXACT, "uploaded CIFAR batches: uint8 RGB pixels 0..255")
    return _spec((0, 255), RGB, BILINEAR,
                 "uploaded image files, converted to RGB and resized (bilinear)")  # fmt: skip


def input_spec(
    name: str,
    in_shape: tuple[int, int, int] | list[int],
    mean: list[float] | None,
    std: list[float] | None,
    upload_kind: str | None = None,
) -> dict:
    """The preprocessing of dataset `name` (an upload's `kind` for `upload:<id>`), for a
    network of input `in_shape` (C, H, W) trained with per-channel `mean` and `std`."""
    channels, height, width = (int(d) for d in in_shape)
    return {
        **_source(name, upload_kind),
        "layout": "NCHW",
        "channels": channels,
        "size": [height, width],
        "to_pixels": "round((x - lo) * 255 / (hi - lo)) clipped to 0..255, (lo, hi) = "
        "raw_range; image files are 0..255 already",
        "mean": None if mean is None else [float(m) for m in mean],
        "std": None if std is None else [float(s) for s in std],
        "normalise": "(pixels / 255 - mean) / std, per channel",
    }
