"""The shared image loader: every bad image (truncated, not an image, a decompression bomb, too many pixels) is
one ValueError line naming the file and what was expected, the pixel limit is read from the header before any
pixel is decoded, and the limit comes from the argument, then $VISTAKIT_MAX_IMAGE_PIXELS, then 4096 × 4096."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from vistakit.data.images import (
    DEFAULT_MAX_PIXELS,
    MAX_PIXELS_ENV,
    ImageError,
    default_max_pixels,
    read_image,
    to_rgb_array,
)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width × height RGB pixels, with one tiny compressed row of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def png_bytes(w: int = 80, h: int = 40) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def no_decoding(monkeypatch):
    def refuse(self):  # the size check must come before any pixel is decoded
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_a_good_file_and_bytes_decode_to_the_same_rgb(tmp_path):
    data = png_bytes()
    (tmp_path / "ok.png").write_bytes(data)
    a, b = read_image(tmp_path / "ok.png", "x"), read_image(data, "x")
    assert a.shape == (40, 80, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert np.array_equal(to_rgb_array(str(tmp_path / "ok.png")), a)


@pytest.mark.parametrize(
    "content, words",
    [
        (lambda: png_bytes()[: len(png_bytes()) // 2], "image data is corrupt or truncated"),
        (lambda: b"hello, I am a text file\n" * 10, "not a readable image file"),
        (lambda: b"", "the image file is empty"),
    ],
    ids=["truncated", "not-an-image", "empty"],
)
def test_bad_files_are_one_line_value_errors_naming_the_file(tmp_path, content, words):
    path = tmp_path / "bad.png"
    path.write_bytes(content())
    with pytest.raises(ValueError) as info:  # ImageError is a ValueError: the CLI prints it as one line
        to_rgb_array(path, "request image 0")
    message = one_line(info.value)
    assert words in message and str(path) in message and isinstance(info.value, ImageError)


def test_a_decompression_bomb_is_refused_from_its_header(tmp_path, no_decoding):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_only(12_000, 12_000))  # 144 megapixels (430 MB decoded) in ~100 bytes
    with pytest.raises(ImageError) as info:
        to_rgb_array(bomb, f"--image {bomb}")
    assert one_line(info.value) == (
        f"--image {bomb}: the image is 12000x12000 = 144000000 pixels; the limit is {DEFAULT_MAX_PIXELS}"
    )
    assert info.value.code == "image_too_large"
    with pytest.raises(ImageError, match="the image header claims 2500000000 pixels"):  # PIL's own guard first
        read_image(png_header_only(50_000, 50_000), "x")


def test_the_limit_argument_env_var_and_default(tmp_path, monkeypatch, no_decoding):
    data = png_header_only(100, 100)
    monkeypatch.delenv(MAX_PIXELS_ENV, raising=False)
    assert default_max_pixels() == 4096 * 4096
    with pytest.raises(ImageError, match="100x100 = 10000 pixels; the limit is 9999"):
        read_image(data, "x", max_pixels=9999)
    monkeypatch.setenv(MAX_PIXELS_ENV, "5000")
    assert default_max_pixels() == 5000
    with pytest.raises(ImageError, match="the limit is 5000"):
        read_image(data, "x")
    with pytest.raises(ImageError, match="the limit is 5000"):  # a PIL image is checked by its size, undecoded
        to_rgb_array(Image.open(io.BytesIO(data)), "x")
    monkeypatch.setenv(MAX_PIXELS_ENV, "lots")
    with pytest.raises(ValueError, match="VISTAKIT_MAX_IMAGE_PIXELS must be a positive whole number"):
        default_max_pixels()
    with pytest.raises(ValueError, match="max_pixels must be a positive whole number"):
        read_image(data, "x", max_pixels=0)


def test_the_limit_is_inclusive_and_arrays_pass_unchecked():
    assert read_image(png_bytes(8, 8), "x", max_pixels=64).shape == (8, 8, 3)
    with pytest.raises(ImageError, match="8x8 = 64 pixels; the limit is 63"):
        read_image(png_bytes(8, 8), "x", max_pixels=63)
    assert to_rgb_array(np.zeros((8, 8), np.uint8), "x", max_pixels=1).shape == (8, 8, 3)  # memory already spent


def test_odd_paths_are_file_not_found_not_os_errors(tmp_path):
    for path in (tmp_path / ("a" * 5000 + ".png"), f"{tmp_path}/ok.png\0.jpg", tmp_path):
        with pytest.raises(FileNotFoundError) as info:
            to_rgb_array(path, "x")
        assert len(one_line(info.value)) < 500  # a 5,000-character name is cut, not echoed whole
