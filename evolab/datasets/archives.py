"""An uploaded archive read safely (datasets.uploads decodes what it holds).

Every entry of a zip or tar is checked before anything is read: no absolute path, no `..`,
no link, device or encrypted entry, no deeper nesting than the caller allows; declared sizes
within the limits and each entry's compression ratio bounded (zip bombs, from RATIO_FLOOR
up); reads never go past the declared size, and `.gz` members are decompressed with a cap.
Messages never name a server path.
"""

from __future__ import annotations

import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .base import DatasetError

# A small entry may compress extremely well (a blank image) without being a bomb: the ratio
# is enforced on entries from this size up; the total size bounds the rest.
RATIO_FLOOR = 1 << 20


class UploadError(DatasetError):
    """An archive refused; the message says which entry and why, never a server path."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int  # the archive, and the total declared size of its entries
    max_images: int
    max_pixels: int  # per image, width x height (also Pillow's MAX_IMAGE_PIXELS)
    max_ratio: float  # per entry: uncompressed / compressed
    seconds: float  # the whole indexing, checked between images


@dataclass(frozen=True)
class Member:
    """One regular file of the archive, checked; `parts` its path, already validated."""

    parts: tuple[str, ...]
    size: int
    compressed: int | None
    handle: object  # ZipInfo or TarInfo


def _checked_parts(raw: str) -> tuple[str, ...]:
    """The components of an entry name, refusing absolute paths and `..`."""
    shown = raw[:80]
    name = raw.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise UploadError(f"entry {shown!r}: absolute paths are refused")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise UploadError(f"entry {shown!r}: '..' in a path is refused")
    if any("\x00" in p or len(p) > 255 for p in parts):
        raise UploadError(f"entry {shown!r}: not a valid file name")
    return parts


def _zip_members(zf: zipfile.ZipFile, limits: Limits) -> Iterator[Member]:
    for info in zf.infolist():
        parts = _checked_parts(info.filename)
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            raise UploadError(f"entry {info.filename[:80]!r}: links are refused")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise UploadError(f"entry {info.filename[:80]!r}: only files and folders are allowed")
        if info.is_dir() or kind == stat.S_IFDIR:
            continue
        if info.flag_bits & 0x1:
            raise UploadError(f"entry {info.filename[:80]!r}: encrypted entries are refused")
        yield Member(parts, info.file_size, info.compress_size, info)


def _tar_members(tf: tarfile.TarFile) -> Iterator[Member]:
    for info in tf:  # one header at a time: a huge archive is refused before it is read
        parts = _checked_parts(info.name)
        if info.issym() or info.islnk():
            raise UploadError(f"entry {info.name[:80]!r}: links are refused")
        if info.isdir():
            continue
        if not info.isfile():
            raise UploadError(f"entry {info.name[:80]!r}: only files and folders are allowed")
        yield Member(parts, info.size, None, info)


def _junk(parts: tuple[str, ...]) -> bool:
    """macOS and editor clutter: `__MACOSX/`, `.DS_Store`, `._x`, hidden files."""
    return any(p == "__MACOSX" or p.startswith(".") for p in parts)


class Archive:
    """An opened zip or tar whose members have all passed the checks."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.limits = limits
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise UploadError(f"the archive is larger than the limit ({_mb(limits.max_bytes)})")
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        if zipfile.is_zipfile(path):
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise UploadError("not a readable zip archive") from exc
            members = _zip_members(self._zip, limits)
        else:
            try:
                self._tar = tarfile.open(path, "r:*")
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise UploadError("not a zip or tar archive") from exc
            members = _tar_members(self._tar)
        self.members: list[Member] = []
        total = 0
        try:
            for m in members:
                if _junk(m.parts):
                    continue
                total += m.size
                if total > limits.max_bytes:
                    raise UploadError(
                        f"the archive's files add up to more than the limit "
                        f"({_mb(limits.max_bytes)} uncompressed)"
                    )
                if (
                    m.compressed is not None
                    and m.size >= RATIO_FLOOR
                    and m.size > limits.max_ratio * max(m.compressed, 1)
                ):
                    raise UploadError(
                        f"entry {'/'.join(m.parts)[:80]!r}: compressed more than "
                        f"{limits.max_ratio:g} to 1 (a zip bomb?)"
                    )
                self.members.append(m)
                if len(self.members) > limits.max_images + 10:
                    raise UploadError(f"more than {limits.max_images:,} files")
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
            raise UploadError("the archive is damaged") from exc
        if self._tar is not None and total >= RATIO_FLOOR and total > limits.max_ratio * size:
            raise UploadError(f"the archive expands more than {limits.max_ratio:g} to 1 (a bomb?)")
        if not self.members:
            raise UploadError("the archive holds no files")

    def read(self, m: Member) -> bytes:
        """The member's bytes, never more than its declared size."""
        where = "/".join(m.parts)[:80]
        try:
            if self._zip is not None:
                with self._zip.open(m.handle) as fh:
                    blob = fh.read(m.size + 1)
            else:
                fh = self._tar.extractfile(m.handle)
                blob = fh.read(m.size + 1) if fh is not None else b""
        except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise UploadError(f"entry {where!r}: cannot be read (damaged archive)") from exc
        if len(blob) != m.size:
            raise UploadError(f"entry {where!r}: its size is not the one declared")
        return blob

    def close(self) -> None:
        for f in (self._zip, self._tar):
            if f is not None:
                f.close()


def _mb(n: int) -> str:
    return f"{n / (1 << 20):g} MB"


def gunzip(blob: bytes, cap: int, where: str) -> bytes:
    out = zlib.decompressobj(wbits=31)
    try:
        data = out.decompress(blob, cap + 1)
    except zlib.error as exc:
        raise UploadError(f"{where}: not a readable .gz file") from exc
    if len(data) > cap or out.unconsumed_tail:
        raise UploadError(f"{where}: expands beyond the size limit (a gzip bomb?)")
    return data
