"""What ``vistakit serve`` accepts and how it batches: one dataclass, checked when built."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Image formats the server may decode, with the media types a data URL may declare for them.
MEDIA_TYPES = {
    "PNG": ("image/png",),
    "JPEG": ("image/jpeg", "image/jpg"),
    "WEBP": ("image/webp",),
    "BMP": ("image/bmp", "image/x-ms-bmp"),
}


@dataclass(frozen=True)
class ServeSettings:
    """Limits and batching of one server.

    Batching: a request waits at most ``max_wait_ms`` for others to share its generation call, which takes at
    most ``max_batch_size`` requests; at most ``max_queue`` requests wait (more get 503).
    Limits (each refusal is a 4xx naming it): ``max_images`` per request (also capped by the model),
    ``max_pixels`` per image (checked from the header, before decoding), ``max_prompt_chars``, ``max_regions``,
    ``max_body_bytes`` per request body, ``max_new_tokens`` and ``max_beams`` a request may ask for
    (``default_new_tokens`` when it asks nothing), ``image_formats`` the decoders allowed.
    ``allowed_file_dir``: where ``file://`` image URLs may point (``None``: refused); http(s) URLs are never
    fetched. ``model_name``: the id in ``/v1/models`` (``None``: the checkpoint folder's name).
    Memory: at most ``max_decoded_pixels`` image pixels are decoded at once across all requests (default: one
    request of four 4096² images); a request that finds them in use waits up to ``pixel_wait_s``, then gets 503
    with ``Retry-After``. Connections (with :func:`vistakit.serve.server.uvicorn_config`): a request must arrive
    whole, headers and body, within ``request_timeout_s`` of its first byte (else 408 and the connection closes);
    an idle keep-alive connection closes after ``keep_alive_s``, one that never sends a byte after
    ``request_timeout_s``.
    """

    max_batch_size: int = 16
    max_wait_ms: float = 10.0
    max_queue: int = 256
    max_images: int = 4
    max_pixels: int = 4096 * 4096
    max_prompt_chars: int = 2000
    max_regions: int = 16
    max_body_bytes: int = 64 * 2**20
    max_new_tokens: int = 512
    default_new_tokens: int = 256
    max_beams: int = 4
    image_formats: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "BMP")
    allowed_file_dir: Path | None = None
    model_name: str | None = None
    max_decoded_pixels: int = 4 * 4096 * 4096
    pixel_wait_s: float = 30.0
    request_timeout_s: float = 30.0
    keep_alive_s: float = 5.0

    def __post_init__(self) -> None:
        for name in ("max_batch_size", "max_queue", "max_images", "max_pixels", "max_prompt_chars", "max_body_bytes",
                     "max_new_tokens", "default_new_tokens", "max_beams", "max_decoded_pixels"):  # fmt: skip
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"serve setting {name} must be a positive integer, got {v!r}")
        if isinstance(self.max_regions, bool) or not isinstance(self.max_regions, int) or self.max_regions < 0:
            raise ValueError(f"serve setting max_regions must be a non-negative integer, got {self.max_regions!r}")
        if not isinstance(self.max_wait_ms, (int, float)) or not 0 <= self.max_wait_ms <= 10_000:
            raise ValueError(f"serve setting max_wait_ms must be between 0 and 10000, got {self.max_wait_ms!r}")
        for name, top in (("pixel_wait_s", 600), ("request_timeout_s", 3600), ("keep_alive_s", 3600)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= top:
                raise ValueError(f"serve setting {name} must be a number of seconds in (0, {top}], got {v!r}")
        if self.default_new_tokens > self.max_new_tokens:
            raise ValueError(
                f"default_new_tokens {self.default_new_tokens} exceeds max_new_tokens {self.max_new_tokens}"
            )
        formats = tuple(f.upper() for f in self.image_formats)
        unknown = [f for f in formats if f not in MEDIA_TYPES]
        if not formats or unknown:
            raise ValueError(
                f"image_formats must be a non-empty subset of {sorted(MEDIA_TYPES)}, got {self.image_formats!r}"
            )
        object.__setattr__(self, "image_formats", formats)
        if self.allowed_file_dir is not None:
            folder = Path(self.allowed_file_dir).expanduser()
            if not folder.is_dir():
                raise ValueError(f"allowed_file_dir {folder} is not a directory")
            object.__setattr__(self, "allowed_file_dir", folder.resolve())

    def media_types(self) -> dict[str, str]:
        """Accepted data-URL media type → PIL format name."""
        return {m: f for f in self.image_formats for m in MEDIA_TYPES[f]}
