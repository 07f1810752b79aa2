"""Image references in requests → H×W×3 uint8 RGB arrays, refusing what the server will not decode.

A reference is a data URL (``data:image/png;base64,…``), bare base64 (``/v1/predict`` only) or, when the server
was given ``allowed_file_dir``, a ``file://`` URL inside that folder. http(s) URLs are never fetched.

Checks, in order, each a :class:`RequestError` naming the image: the URL scheme; the declared media type; the
base64; the format and size read from the header (width × height > ``max_pixels`` is refused *before* any pixel
is decoded, so a small file claiming a huge image cannot exhaust memory); then the decode itself (corrupt or
truncated data). The EXIF orientation is applied (by :func:`vistakit.model.processor.to_rgb_array`, as for
files given to the Python API and the CLI), as browsers display the image.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
from PIL import Image

from ..model.processor import to_rgb_array
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
    """Encoded image bytes → H×W×3 uint8, with the format and pixel-count checks before decoding."""
    if not data:
        raise _refuse(f"{param}: the image is empty", param, "invalid_image")
    accepted = ", ".join(settings.image_formats)
    try:
        im = Image.open(io.BytesIO(data), formats=settings.image_formats)  # reads the header only
    except Image.DecompressionBombError as exc:  # PIL's own, coarser guard fired first (its message has the size)
        size = re.search(r"\((\d+) pixels\)", str(exc))
        claimed = f"{size.group(1)} pixels" if size else "too many pixels"
        raise _refuse(f"{param}: the image header claims {claimed}; the limit is {settings.max_pixels}", param,
                      "image_too_large") from None  # fmt: skip
    except Exception:  # noqa: BLE001  (PIL raises many types on foreign or garbled headers)
        raise _refuse(f"{param}: not a readable {accepted} image (corrupt, truncated or another format)", param,
                      "invalid_image") from None  # fmt: skip
    with im:
        w, h = im.size
        if w * h > settings.max_pixels:
            raise _refuse(f"{param}: the image is {w}x{h} = {w * h} pixels; the limit is {settings.max_pixels}",
                          param, "image_too_large")  # fmt: skip
        try:  # the actual decode, upright by the EXIF orientation as every other door to the model reads it
            return to_rgb_array(im, param)
        except Exception as exc:  # noqa: BLE001  (truncated streams, bad chunks, decoder errors…)
            raise _refuse(f"{param}: the {im.format} image data is corrupt or truncated ({exc})", param,
                          "invalid_image") from None  # fmt: skip


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


def _file_url(url: str, settings: ServeSettings, param: str) -> bytes:
    folder = settings.allowed_file_dir
    if folder is None:
        raise _refuse(f"{param}: file:// URLs are refused (the server was started without an allowed image "
                      f"folder, --allow-file-dir); send the image as a data URL", param, "unsupported_image_url")  # fmt: skip
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise _refuse(f"{param}: file URLs must name a local path (file:///path), got host {parts.netloc!r}", param,
                      "unsupported_image_url")  # fmt: skip
    path = Path(unquote(parts.path)).resolve()  # symlinks and '..' resolved before the containment check
    if not path.is_relative_to(folder):
        raise _refuse(f"{param}: {path} is outside the allowed image folder {folder}", param, "forbidden_path")
    if not path.is_file():
        raise _refuse(f"{param}: no image file at {path}", param, "file_not_found")
    if path.stat().st_size > settings.max_body_bytes:
        raise _refuse(f"{param}: {path} is larger than {settings.max_body_bytes} bytes", param, "image_too_large")
    return path.read_bytes()


def load_image(ref: str, settings: ServeSettings, param: str, allow_bare_base64: bool = False) -> np.ndarray:
    """One image reference (see the module docstring) → H×W×3 uint8 RGB; ``param`` names it in errors."""
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
    return read_image_bytes(data, settings, param)
