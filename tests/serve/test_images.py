"""Image references → arrays: data URLs, base64, file:// inside the allowed folder only, and every refusal
(scheme, media type, base64, format, pixel count before decoding, corrupt data) with the param it names."""

import base64
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from vistakit.serve.errors import RequestError
from vistakit.serve.images import load_image, read_image_bytes
from vistakit.serve.settings import ServeSettings


def refused(ref: str, settings: ServeSettings | None = None, **kw) -> RequestError:
    with pytest.raises(RequestError) as info:
        load_image(ref, settings or ServeSettings(), "images.0", **kw)
    assert info.value.status == 400 and info.value.param == "images.0"
    return info.value


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width × height RGB pixels, with one tiny compressed row of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_data_url_and_bare_base64_decode_to_rgb(png, data_url):
    arr = load_image(data_url(png), ServeSettings(), "images.0")
    assert arr.shape == (40, 80, 3) and arr.dtype == np.uint8
    assert np.array_equal(load_image(base64.b64encode(png).decode(), ServeSettings(), "p", True), arr)
    assert refused(base64.b64encode(png).decode()).code == "unsupported_image_url"  # bare base64 only if allowed


def test_every_accepted_format_decodes(encode, data_url):
    img = np.full((6, 9, 3), 200, np.uint8)
    for fmt, media in (("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("BMP", "image/bmp")):
        assert load_image(data_url(encode(img, fmt), media), ServeSettings(), "x").shape == (6, 9, 3)
    gray_alpha = Image.new("LA", (5, 4))
    assert load_image(data_url(encode(gray_alpha)), ServeSettings(), "x").shape == (4, 5, 3)


def test_jpeg_exif_orientation_is_applied(encode, data_url):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = encode(Image.new("RGB", (30, 10)), "JPEG", exif=exif.tobytes())
    assert load_image(data_url(data, "image/jpeg"), ServeSettings(), "x").shape == (30, 10, 3)


def test_unaccepted_types_and_schemes_are_refused(encode, data_url):
    gif = encode(Image.new("P", (4, 4)), "GIF")
    err = refused(data_url(gif, "image/gif"))
    assert err.code == "unsupported_image_type" and "'image/gif' is not accepted" in err.message
    assert refused(data_url(gif)).code == "invalid_image"  # labelled PNG, but GIF bytes: never given to a decoder
    only_png = ServeSettings(image_formats=("PNG",))
    assert (
        refused(data_url(encode(Image.new("RGB", (4, 4)), "BMP"), "image/bmp"), only_png).code
        == "unsupported_image_type"
    )
    for url, words in [("http://example.com/a.png", "http URLs are not fetched"),
                       ("https://example.com/a.png", "https URLs are not fetched"),
                       ("ftp://host/a.png", "ftp: URLs are not accepted")]:  # fmt: skip
        err = refused(url)
        assert err.code == "unsupported_image_url" and words in err.message
    assert "must be base64-encoded" in refused("data:image/png,rawbytes").message
    assert "needs a comma" in refused("data:image/png;base64").message


def test_bad_base64_and_corrupt_or_truncated_images(png, data_url):
    err = refused("data:image/png;base64,@@@not base64@@@")
    assert err.code == "invalid_base64" and "not valid base64" in err.message
    err = refused(data_url(b"garbage" * 20))
    assert err.code == "invalid_image" and "not a readable PNG, JPEG, WEBP, BMP image" in err.message
    err = refused(data_url(png[: len(png) // 2]))  # header fine, pixel data cut off
    assert err.code == "invalid_image" and "corrupt or truncated" in err.message
    assert refused(data_url(b"")).message == "images.0: the image is empty"


def test_decompression_bomb_is_refused_from_its_header_before_decoding(data_url, monkeypatch):
    def no_decoding(self):  # the check must come before any pixel is decoded
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    bomb = png_header_only(50_000, 50_000)  # 2.5 gigapixels (7.5 GB decoded) in ~100 bytes
    assert len(bomb) < 200
    err = refused(data_url(bomb))
    assert err.code == "image_too_large" and "the limit is" in err.message
    err = refused(data_url(png_header_only(5000, 4000)), ServeSettings(max_pixels=4096 * 4096))
    assert err.message == "images.0: the image is 5000x4000 = 20000000 pixels; the limit is 16777216"


def test_pixel_limit_is_inclusive(encode):
    data = encode(Image.new("RGB", (8, 8)))
    assert read_image_bytes(data, ServeSettings(max_pixels=64), "x").shape == (8, 8, 3)
    with pytest.raises(RequestError, match="8x8 = 64 pixels; the limit is 63"):
        read_image_bytes(data, ServeSettings(max_pixels=63), "x")


def test_file_urls_only_inside_the_allowed_folder(tmp_path, png):
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir(), outside.mkdir()
    (allowed / "a b.png").write_bytes(png)
    (outside / "secret.png").write_bytes(png)
    (allowed / "link.png").symlink_to(outside / "secret.png")
    err = refused((allowed / "a b.png").as_uri())  # not configured: refused
    assert err.code == "unsupported_image_url" and "--allow-file-dir" in err.message
    settings = ServeSettings(allowed_file_dir=allowed)
    assert load_image((allowed / "a b.png").as_uri(), settings, "x").shape == (40, 80, 3)  # %20 unquoted
    assert load_image(f"file://localhost{allowed}/a%20b.png", settings, "x").shape == (40, 80, 3)
    for ref in (f"file://{allowed}/../outside/secret.png", (allowed / "link.png").as_uri(), "file:///etc/passwd"):
        err = refused(ref, settings)
        assert err.code == "forbidden_path" and "outside the allowed image folder" in err.message
    assert refused(f"file://{allowed}/missing.png", settings).code == "file_not_found"
    assert "must name a local path" in refused(f"file://otherhost{allowed}/a.png", settings).message


def test_file_url_problems_are_400s_naming_the_url_as_given_never_a_resolved_path(tmp_path, png):
    allowed, secret = tmp_path / "allowed", tmp_path / "secret-target"
    allowed.mkdir(), secret.mkdir()
    (allowed / "ok.png").write_bytes(png)
    (allowed / "link").symlink_to(secret)
    (secret / "x.png").write_bytes(png)
    settings = ServeSettings(allowed_file_dir=allowed)
    cases = {
        f"file://{allowed}/ok.png%00.jpg": "invalid_image_url",  # was a 500: embedded null byte
        f"file://{allowed}/{'a' * 5000}.png": "invalid_image_url",  # was a 500: File name too long
        f"file://{allowed}/%ff.png": "invalid_image_url",  # percent-escapes that are not UTF-8
        "file:///proc/self/cwd": "forbidden_path",  # resolves to the server's working directory
        f"file://{allowed}/link/x.png": "forbidden_path",  # resolves to the symlink's target
    }
    for url, code in cases.items():
        err = refused(url, settings)
        assert err.code == code, (url, err.message)
        assert "\n" not in err.message and url[:150] in err.message  # the URL as given (a long one cut)
        for leaked in (str(secret), str(Path.cwd()), str(allowed.resolve()) + "\n"):
            assert leaked not in err.message.replace(url[:200], "")  # nothing but the URL itself names a path
