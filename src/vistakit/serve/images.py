"""Image references in requests → H×W×3 uint8 RGB arrays, refusing what the server will not decode.

A reference is a data URL (``data:image/png;base64,…``), bare base64 (``/v1/predict`` only) or, when the server
was given ``allowed_file_dir``, a ``file://`` URL inside that folder. http(s) URLs are never fetched.

Checks, in order, each a :class:`RequestError` naming the image: the URL scheme; the declared media type; the
base64; the format and size read from the header (width × height > ``max_pixels`` is refused *before* any pixel
is decoded, so a small file claiming a huge image cannot exhaust memory); then the decode itself (corrupt or
truncated data). These image checks are the shared loader's (:mod:`vistakit.data.images`), as for files given to
the Python API and the CLI; the EXIF orientation is applied, as browsers display the image.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np

from ..data.images import ImageError, open_image, read_image
from .errors import RequestError
from .settings import ServeSettings


def _refuse(message: str, param: str, code: str) -> RequestError:
    return RequestError(message, status=400, param=param, code=code)


def decode_base64(data: str, param: str) -> bytes:
    """Standard base64 (whitespace tolerated) → bytes."""
    try:
        return base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _refuse(f"{param}: not valid base64 ({exc})", param, "invalid_base64") from None


def read_image_bytes(data: bytes, settings: ServeSettings, param: str) -> np.ndarray:
    """Encoded image bytes → H×W×3 uint8, with the format and pixel-count checks before decoding (the shared
    loader :func:`vistakit.data.images.read_image`; its refusals become 400s with their codes)."""
    try:
        return read_image(data, param, settings.max_pixels, settings.image_formats)
    except ImageError as exc:
        raise _refuse(str(exc), param, exc.code) from None


def _data_url(url: str, settings: ServeSettings, param: str) -> bytes:
    head, sep, payload = url.partition(",")
    if not sep:
        raise _refuse(f"{param}: a data URL needs a comma before its data (data:image/png;base64,…)", param,
                      "invalid_image_url")  # fmt: skip
    fields = [f.strip().lower() for f in head[len("data:") :].split(";")]
    media, params = fields[0], fields[1:]
    accepted = settings.media_types()
    if media not in accepted:
        raise _refuse(f"{param}: media type {media or '(none)'!r} is not accepted; expected one of "
                      f"{sorted(accepted)}", param, "unsupported_image_type")  # fmt: skip
    if "base64" not in params:
        raise _refuse(f"{param}: data URLs must be base64-encoded (data:{media};base64,…)", param, "invalid_image_url")
    return decode_base64(payload, param)


def _shown(url: str) -> str:
    """The URL as the request gave it, cut to a readable length (a refusal never shows a resolved path)."""
    return repr(url if len(url) <= 200 else url[:200] + "…")


def _file_url(url: str, settings: ServeSettings, param: str) -> bytes:
    folder = settings.allowed_file_dir
    if folder is None:
        raise _refuse(f"{param}: file:// URLs are refused (the server was started without an allowed image "
                      f"folder, --allow-file-dir); send the image as a data URL", param, "unsupported_image_url")  # fmt: skip
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise _refuse(f"{param}: file URLs must name a local path (file:///path), got host {parts.netloc!r}", param,
                      "unsupported_image_url")  # fmt: skip
    try:
        raw = unquote(parts.path, errors="strict")
    except UnicodeError:
        raise _refuse(f"{param}: the file URL {_shown(url)} has percent-escapes that are not UTF-8", param,
                      "invalid_image_url") from None  # fmt: skip
    if "\x00" in raw:
        raise _refuse(f"{param}: the file URL {_shown(url)} contains a NUL character; expected a plain file path",
                      param, "invalid_image_url")  # fmt: skip
    try:  # symlinks and '..' resolved before the containment check; never shown back to the caller
        path = Path(raw).resolve()
        inside = path.is_relative_to(folder)
        is_file = inside and path.is_file()
        size = path.stat().st_size if is_file else 0
    except (OSError, ValueError, UnicodeError):  # a name too long for the file system, a bad encoding, …
        raise _refuse(f"{param}: the file URL {_shown(url)} does not name a readable file (a name too long or "
                      f"not valid for this file system)", param, "invalid_image_url") from None  # fmt: skip
    if not inside:
        raise _refuse(f"{param}: the file URL {_shown(url)} is outside the allowed image folder", param,
                      "forbidden_path")  # fmt: skip
    if not is_file:
        raise _refuse(f"{param}: no image file at the file URL {_shown(url)}", param, "file_not_found")
    if size > settings.max_body_bytes:
        raise _refuse(f"{param}: the file at {_shown(url)} is larger than {settings.max_body_bytes} bytes", param,
                      "image_too_large")  # fmt: skip
    try:
        return path.read_bytes()
    except OSError:
        raise _refuse(f"{param}: the file at {_shown(url)} could not be read", param, "file_not_found") from None


def load_image(ref: str, settings: ServeSettings, param: str, allow_bare_base64: bool = False) -> np.ndarray:
    """One image reference (see the module docstring) → H×W×3 uint8 RGB; ``param`` names it in errors."""
    return read_image_bytes(image_bytes(ref, settings, param, allow_bare_base64), settings, param)


def header_pixels(data: bytes, settings: ServeSettings, param: str) -> int:
    """width × height read from the header of encoded image bytes, after the format and per-image limit checks
    (nothing decoded): what decoding the image will cost."""
    try:
        with open_image(data, param, settings.max_pixels, settings.image_formats) as im:
            return im.size[0] * im.size[1]
    except ImageError as exc:
        raise _refuse(str(exc), param, exc.code) from None


def image_bytes(ref: str, settings: ServeSettings, param: str, allow_bare_base64: bool = False) -> bytes:
    """One image reference → its encoded bytes (the URL, media type and base64 checks; nothing decoded)."""
    if not isinstance(ref, str) or not ref:
        raise _refuse(f"{param}: expected an image URL or base64 string", param, "invalid_image")
    scheme = ref[:16].split(":", 1)[0].lower() if ":" in ref[:16] else ""
    if scheme == "data":
        data = _data_url(ref, settings, param)
    elif scheme == "file":
        data = _file_url(ref, settings, param)
    elif scheme in ("http", "https"):
        raise _refuse(f"{param}: {scheme} URLs are not fetched by this server; send the image as a data URL "
                      f"(data:image/png;base64,…)", param, "unsupported_image_url")  # fmt: skip
    elif scheme or not allow_bare_base64:
        what = f"{scheme}: URLs are" if scheme else "bare base64 is"
        raise _refuse(f"{param}: {what} not accepted here; expected a data URL (data:image/png;base64,…)", param,
                      "unsupported_image_url")  # fmt: skip
    else:
        data = decode_base64(ref, param)
    return data
