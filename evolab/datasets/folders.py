"""Image folders under the data directory: `folder:<name>` is `<name>/<class>/<image>`,
every image resized to 32x32 RGB. A small set without a test split of its own: test and
validation are held out by class (splits.small_set_indices)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from . import splits
from .base import DATA_DIR, INVALID, READY, DatasetError, Entry, build, fingerprint, reason, shown

PREFIX = "folder:"
IMAGE_SIZE = 32  # [choice] every image-folder picture is resized to 32x32 RGB
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_LISTED = 100  # folders the picker lists at most
LAYOUT = "expected one sub-folder per class holding .png/.jpg images"


def safe_folder(data_dir: Path, name: str) -> Path:
    """The folder `data_dir/name`, refusing anything that could escape `data_dir`."""
    if not NAME.fullmatch(name) or ".." in name:
        raise DatasetError(
            f"bad image-folder name {name[:40]!r}: one plain sub-folder name of {DATA_DIR} "
            "(letters, digits, '.', '_', '-'; no '..', no '/')"
        )
    root = Path(data_dir).resolve()
    folder = (root / name).resolve()
    if folder == root or not folder.is_relative_to(root):  # a symlink escaping the root
        raise DatasetError(f"image folder {name!r} resolves outside {DATA_DIR}")
    if not folder.is_dir():
        raise DatasetError(f"image folder {DATA_DIR}/{name} not found; {LAYOUT}")
    return folder


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root)


def class_files(data_dir: Path, name: str) -> list[tuple[str, list[Path]]]:
    """(class, image files) of every class sub-folder with images, sorted; no image is
    opened. Links that leave the data directory are ignored."""
    folder = safe_folder(data_dir, name)
    root = Path(data_dir).resolve()
    found = []
    for class_dir in sorted(d for d in folder.iterdir() if d.is_dir() and _inside(d, root)):
        files = sorted(
            f
            for f in class_dir.iterdir()
            if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file() and _inside(f, root)
        )
        if files:
            found.append((class_dir.name, files))
    if len(found) < 2:
        raise DatasetError(
            f"image folder {DATA_DIR}/{name}: expected at least two class sub-folders with "
            f"images ({', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    return found


def _labels(found: list[tuple[str, list[Path]]]) -> np.ndarray:
    return np.concatenate([np.full(len(files), c, np.int64) for c, (_, files) in enumerate(found)])


def _load_image(path: Path, root: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            img = img.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
            return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
    except OSError as exc:  # its text names the absolute path: not repeated
        raise DatasetError(f"{shown(path, root)}: not a readable image") from exc


def _record(found, seed: int) -> dict:
    sizes = splits.small_set_sizes(_labels(found))
    files = [f for _, fs in found for f in fs]
    return splits.record(sizes, seed, None, True, fingerprint(files))


def load(data_dir: Path, name: str, seed: int):
    found = class_files(data_dir, name)
    root = Path(data_dir).resolve()
    images = np.stack([_load_image(f, root) for _, files in found for f in files])
    x, y = splits.small_set_splits(images, _labels(found), seed)
    classes = [c for c, _ in found]
    return build(f"{PREFIX}{name}", classes, x, y, augment=True, split=_record(found, seed))


def split_record(data_dir: Path, name: str, seed: int) -> dict:
    return _record(class_files(data_dir, name), seed)


def describe(data_dir: Path, name: str) -> Entry:
    common = {"name": f"{PREFIX}{name}", "title": f"image folder {name}", "shape": (3, 32, 32)}
    try:
        found = class_files(data_dir, name)
    except (DatasetError, OSError) as exc:
        return Entry(**common, state=INVALID, source=f"{DATA_DIR}/{name}", reason=reason(exc))
    sizes = splits.small_set_sizes(_labels(found))
    return Entry(
        **common,
        state=READY,
        num_classes=len(found),
        source=f"{DATA_DIR}/{name}/<class>/<image>",
        **sizes,
    )


def describe_all(data_dir: Path | None, reserved: set[str]) -> list[Entry]:
    """Every plain sub-folder of the data directory but the standard sets' own folders."""
    if data_dir is None or not Path(data_dir).is_dir():
        return []
    names = sorted(
        d.name
        for d in Path(data_dir).iterdir()
        if d.is_dir() and NAME.fullmatch(d.name) and d.name not in reserved
    )
    return [describe(Path(data_dir), n) for n in names[:MAX_LISTED]]
