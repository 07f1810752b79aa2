"""Images → H×W×3 uint8 RGB arrays through one loader, for every door to the model (the Python API, the CLI,
evaluation, training data and the server), so a bad image is refused the same way everywhere.

Checks, in order, each an :class:`ImageError` (a ``ValueError``) of one line naming the image (``where``) and
what was expected: the format, read from the header; the pixel count ``width × height`` from the header, refused
above ``max_pixels`` *before* any pixel is decoded (a 17 KB PNG may claim 12000 × 12000 pixels); then the decode
itself (truncated or corrupt data). The EXIF orientation is applied, as viewers and browsers show the image.

``max_pixels`` defaults to the environment variable ``VISTAKIT_MAX_IMAGE_PIXELS`` when set, else 4096 × 4096
(the server's default per-image limit too).
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ImageLike = Image.Image | np.ndarray | str | Path
MAX_PIXELS_ENV = "VISTAKIT_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 4096 * 4096


class ImageError(ValueError):
    """A refused image. ``code``: ``invalid_image`` (not a readable image of an accepted format, or corrupt /
    truncated data) or ``image_too_large`` (more pixels than the limit)."""

    def __init__(self, message: str, code: str = "invalid_image") -> None:
        super().__init__(message)
        self.code = code


def default_max_pixels() -> int:
    """The per-image pixel limit: ``$VISTAKIT_MAX_IMAGE_PIXELS`` when set, else 4096 × 4096."""
    raw = os.environ.get(MAX_PIXELS_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_MAX_PIXELS
    return check_max_pixels(raw.strip(), MAX_PIXELS_ENV)


def check_max_pixels(value: object, name: str = "max_pixels") -> int:
    """``value`` as a positive pixel count (an int, or its decimal text); a ValueError naming ``name`` if not."""
    text = value.strip() if isinstance(value, str) else None
    if text is not None and text.isdigit() and len(text) <= 18:
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive whole number of pixels (e.g. {DEFAULT_MAX_PIXELS}), got "
                         f"{value!r:.40}")  # fmt: skip
    return value


def _short(text: str) -> str:
    """A file name cut to a readable length (a 5,000-character name is not echoed whole)."""
    return text if len(text) <= 200 else text[:200] + "…"


def _limit(max_pixels: int | None) -> int:
    return default_max_pixels() if max_pixels is None else check_max_pixels(max_pixels)


def check_size(size: tuple[int, int], where: str, max_pixels: int | None = None) -> None:
    """Refuse a (width, height) over the pixel limit (:class:`ImageError` ``image_too_large``)."""
    w, h = size
    limit = _limit(max_pixels)
    if w * h > limit:
        raise ImageError(f"{where}: the image is {w}x{h} = {w * h} pixels; the limit is {limit}", "image_too_large")


def open_image(
    source: bytes | str | Path, where: str, max_pixels: int | None = None, formats: Sequence[str] | None = None
) -> Image.Image:
    """Read only the header of encoded bytes or a file: a lazy PIL image whose format (one of ``formats``,
    ``None``: any PIL reads) and pixel count passed the checks. Close it (``with``) when done."""
    limit = _limit(max_pixels)
    if isinstance(source, (str, Path)):
        try:
            is_file = Path(source).is_file()
        except (OSError, ValueError):  # a name too long for the file system, an embedded NUL, …
            is_file = False
        if not is_file:
            raise FileNotFoundError(f"{where}: no image file at {_short(str(source))}")
        if Path(source).stat().st_size == 0:
            raise ImageError(f"{where}: the image file is empty")
        stream: str | io.BytesIO = str(source)  # PIL opens the file and closes it with the image
    elif isinstance(source, (bytes, bytearray, memoryview)):
        if not len(source):
            raise ImageError(f"{where}: the image is empty")
        stream = io.BytesIO(source)
    else:
        raise TypeError(f"{where}: expected image bytes or a file path, got {type(source).__name__}")
    expected = f"{', '.join(formats)} image" if formats else "image file"
    try:
        with warnings.catch_warnings():  # PIL's DecompressionBombWarning: the limit is checked below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(stream, formats=list(formats) if formats else None)  # reads the header only
    except Image.DecompressionBombError as exc:  # PIL's own, coarser guard fired first (its message has the size)
        size = re.search(r"\((\d+) pixels\)", str(exc))
        claimed = f"{size.group(1)} pixels" if size else "too many pixels"
        raise ImageError(f"{where}: the image header claims {claimed}; the limit is {limit}", "image_too_large") from None
    except Exception:  # noqa: BLE001  (PIL raises many types on foreign or garbled headers)
        raise ImageError(f"{where}: not a readable {expected} (corrupt, truncated or another format)") from None
    try:
        check_size(im.size, where, limit)
    except ImageError:
        im.close()
        raise
    return im


def decode(im: Image.Image, where: str, copy: bool = True) -> np.ndarray:
    """A (lazy) PIL image → H×W×3 uint8 RGB, upright by its EXIF orientation; decode errors → :class:`ImageError`.
    ``copy=False`` may transform ``im`` in place (for images this module opened), sparing a full-size copy."""
    try:
        if copy:
            im = ImageOps.exif_transpose(im)
        else:
            im.load()
            ImageOps.exif_transpose(im, in_place=True)
        if im.mode != "RGB":
            im = im.convert("RGB")
        return np.asarray(im)
    except Exception as exc:  # noqa: BLE001  (truncated streams, bad chunks, decoder errors…)
        what = f"the {im.format} image data" if im.format else "the image data"
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ImageError(f"{where}: {what} is corrupt or truncated ({reason})") from None


def read_image(
    source: bytes | str | Path, where: str, max_pixels: int | None = None, formats: Sequence[str] | None = None
) -> np.ndarray:
    """Encoded bytes or an image file → H×W×3 uint8 RGB, every check of the module docstring made."""
    with open_image(source, where, max_pixels, formats) as im:
        return decode(im, where, copy=False)


def to_rgb_array(image: ImageLike, where: str = "image", max_pixels: int | None = None) -> np.ndarray:
    """A path, a PIL image, or an H×W×3 (or H×W) uint8 array → an H×W×3 uint8 RGB array.

    Files are read by :func:`read_image` (the header checked before decoding); PIL images have their size
    checked, then are turned upright by their EXIF orientation tag (so a photo gives the same pixels, and the
    same pixel coordinates, whichever way it reaches the model). Arrays are taken as they are: they carry no
    tag, and their memory is already spent.
    """
    if isinstance(image, (str, Path)):
        return read_image(image, where if str(image) in where else f"{where} ({_short(str(image))})", max_pixels)
    if isinstance(image, Image.Image):
        check_size(image.size, where, max_pixels)
        return decode(image, where, copy=True)
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise TypeError(f"{where}: expected a uint8 array, got dtype {image.dtype}")
        if image.ndim == 2:
            return np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim == 3 and image.shape[2] in (3, 4) and min(image.shape[:2]) > 0:
            return np.ascontiguousarray(image[:, :, :3])
        raise ValueError(f"{where}: expected an H×W×3 array, got shape {image.shape}")
    raise TypeError(f"{where}: expected a PIL image, a path or a uint8 numpy array, got {type(image).__name__}")
