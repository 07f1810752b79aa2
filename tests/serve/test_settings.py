"""ServeSettings refuses impossible limits with a message naming the setting."""

import pytest

from vistakit.serve.settings import ServeSettings


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"max_batch_size": 0}, "max_batch_size must be a positive integer, got 0"),
        ({"max_pixels": 1.5}, "max_pixels must be a positive integer"),
        ({"max_images": True}, "max_images must be a positive integer"),
        ({"max_regions": -1}, "max_regions must be a non-negative integer"),
        ({"max_wait_ms": -1}, "max_wait_ms must be between 0 and 10000"),
        ({"default_new_tokens": 600}, "default_new_tokens 600 exceeds max_new_tokens 512"),
        ({"image_formats": ("PNG", "GIF")}, "image_formats must be a non-empty subset"),
        ({"image_formats": ()}, "image_formats must be a non-empty subset"),
        ({"allowed_file_dir": "/no/such/folder"}, "allowed_file_dir /no/such/folder is not a directory"),
    ],
)
def test_bad_settings_are_refused(changes, words):
    with pytest.raises(ValueError, match=words):
        ServeSettings(**changes)


def test_settings_normalise_formats_and_folder(tmp_path):
    s = ServeSettings(image_formats=("png", "jpeg"), allowed_file_dir=str(tmp_path / "."))
    assert s.image_formats == ("PNG", "JPEG") and s.allowed_file_dir == tmp_path.resolve()
    assert s.media_types() == {"image/png": "PNG", "image/jpeg": "JPEG", "image/jpg": "JPEG"}
