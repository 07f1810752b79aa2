"""Shared converter helpers: image sizes read from headers, upright as the model reads the pixels."""

from __future__ import annotations

import pytest
from PIL import Image

from vistakit.data.convert.base import image_size_from_file


@pytest.mark.parametrize(
    "orientation, size", [(None, (30, 10)), (1, (30, 10)), (3, (30, 10)), (6, (10, 30)), (8, (10, 30))]
)
def test_image_size_from_file_is_the_upright_size(tmp_path, orientation, size):
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (30, 10)).save(path, exif=exif.tobytes())
    assert image_size_from_file(path) == size


def test_image_size_from_file_names_an_unreadable_file(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="broken.png: cannot read the image header"):
        image_size_from_file(path)
