import json

import numpy as np

from vistakit.cli import main
from vistakit.evaluation.codec import load_coco_masks, run_codec_benchmark


def test_benchmark_result_shape(shared_data):
    cases = load_coco_masks(shared_data / "coco_tiny/annotations/instances_train2017.json")[:40]
    res = run_codec_benchmark(cases, points=(8, 32), bins=1000, repeats=1)
    assert set(res["samplers"]) == {"uniform", "vistallm", "default"}
    for row in res["samplers"].values():
        assert set(row) == {"8", "32"} and all(0 < v <= 1 for v in row.values())
    assert res["samplers"]["default"]["32"] > res["samplers"]["uniform"]["32"]
    assert res["masks"] == 40 and res["masks_per_s"] > 0


def test_cli_json_last_line(tmp_path, capsys):
    # A tiny COCO file: two images, three annotations, one crowd RLE.
    rle = {"size": [20, 30], "counts": [30 * 5, 10, 20 * 30 - 30 * 5 - 10]}
    coco = {
        "images": [{"id": 1, "width": 30, "height": 20}, {"id": 2, "width": 40, "height": 40}],
        "annotations": [
            {"id": 1, "image_id": 1, "segmentation": [[2, 2, 20, 2, 20, 15, 2, 15]]},
            {"id": 2, "image_id": 2, "segmentation": [[5, 5, 35, 8, 20, 30]]},
            {"id": 3, "image_id": 1, "segmentation": rle, "iscrowd": 1},
        ],
    }
    path = tmp_path / "inst.json"
    path.write_text(json.dumps(coco))
    assert main(["bench", "codec", "--data", str(path), "--points", "8,16", "--json", "--repeats", "1"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["masks"] == 3 and set(out["samplers"]["default"]) == {"8", "16"}
    assert np.isfinite(out["masks_per_s"])


def test_cli_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["bench", "codec", "--data", str(bad)]) == 2
    assert "not a COCO instances file" in capsys.readouterr().err
    assert main(["bench", "codec", "--data", str(tmp_path / "missing.json")]) == 2
