"""The restricted unpickler: reads the real legacy torch.save split file, refuses code and tensors."""

from __future__ import annotations

import os
import pickle
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vistakit.data.convert.safe_pickle import LEGACY_TORCH_MAGIC, load_plain_pickle


def test_reads_real_resc_split_without_torch(data_dir):
    data = load_plain_pickle(data_dir / "refcoco" / "unc_testB.pth")
    assert isinstance(data, list) and len(data) == 5095  # the official RefCOCO testB size
    file_name, ann, box, sent = data[0][:4]
    assert (file_name, ann, sent) == ("COCO_train2014_000000000154.jpg", "590410.pth", "zebra at the bottom")
    assert box == [11.98, 315.59, 349.08, 324.41]


def _legacy(tmp_path, obj, storage_keys=()):
    p = tmp_path / "legacy.pth"
    with p.open("wb") as fh:
        for part in (LEGACY_TORCH_MAGIC, 1001, {"protocol_version": 1001}, obj, list(storage_keys)):
            pickle.dump(part, fh, protocol=2)
    return p


def test_legacy_and_plain_and_zip_layouts(tmp_path):
    obj = [("a.jpg", "1.pth", [0.0, 1.0, 2.0, 3.0], "x")]
    assert load_plain_pickle(_legacy(tmp_path, obj)) == obj
    plain = tmp_path / "refs.p"
    plain.write_bytes(pickle.dumps({"k": {1, 2}}, protocol=2))
    assert load_plain_pickle(plain) == {"k": {1, 2}}
    z = tmp_path / "new.pth"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps(obj))
    assert load_plain_pickle(z) == obj


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_refuses_code(tmp_path):
    p = tmp_path / "evil.p"
    p.write_bytes(pickle.dumps([_Evil()]))
    with pytest.raises(ValueError, match=r"refusing to load (posix|nt|os)\.system"):
        load_plain_pickle(p)


def test_refuses_tensor_storages(tmp_path):
    with pytest.raises(ValueError, match="tensor storage"):
        load_plain_pickle(_legacy(tmp_path, [1], storage_keys=["0"]))

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", "0") if obj == "T" else None

    p = tmp_path / "pid.p"
    with p.open("wb") as fh:
        P(fh, protocol=2).dump(["T"])
    with pytest.raises(ValueError, match="refusing persistent id"):
        load_plain_pickle(p)


def test_truncated_and_missing(tmp_path):
    p = tmp_path / "cut.p"
    p.write_bytes(pickle.dumps(list(range(100)))[:20])
    with pytest.raises(ValueError, match="truncated|not a readable pickle"):
        load_plain_pickle(p)
    with pytest.raises(FileNotFoundError):
        load_plain_pickle(tmp_path / "missing.p")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_value_error_or_data(tmp_path_factory, blob):
    p = tmp_path_factory.mktemp("blob") / "x.p"
    p.write_bytes(blob)
    try:
        load_plain_pickle(p)
    except ValueError:
        pass
