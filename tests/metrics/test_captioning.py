"""Caption scores equal pycocoevalcap called directly, on real COCO captions with perturbed hypotheses.

One run of each side per module (a fixture): the tokenizer and METEOR are Java programs and start slowly.
"""

from __future__ import annotations

import json

import pytest

from vistakit.metrics import captioning
from vistakit.metrics.captioning import caption_scores
from vistakit.paths import shared_data_dir


def _samples():
    data = json.loads((shared_data_dir() / "coco_mini" / "annotations" / "captions_val2017.json").read_text())
    by_img: dict[int, list[str]] = {}
    for a in data["annotations"]:
        by_img.setdefault(a["image_id"], []).append(a["caption"])
    groups = [caps for _, caps in sorted(by_img.items()) if len(caps) >= 5][:6]
    refs = [caps[1:] for caps in groups]
    hyps = [
        groups[0][0],  # a held-out human caption
        groups[1][0].upper() + " !",  # same words, other case and punctuation (tokenizer removes both)
        "a photo of " + " ".join(groups[2][1].split()[:4]),  # a paraphrase-like prefix
        groups[0][1],  # the caption of another image: wrong
        "",  # empty output
        groups[5][1],  # copies a reference: high
    ]
    return hyps, refs


@pytest.fixture(scope="module")
def scored():
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    hyps, refs = _samples()
    ours = caption_scores(hyps, refs, per_sample=True)
    tok = PTBTokenizer()
    n = len(hyps)
    both = tok.tokenize({**{i: [{"caption": r} for r in rs] for i, rs in enumerate(refs)},
                         **{n + i: [{"caption": h}] for i, h in enumerate(hyps)}})  # fmt: skip
    gts = {i: both[i] for i in range(n)}
    res = {i: both[n + i] for i in range(n)}
    bleu, bleu_each = Bleu(4).compute_score(gts, res, verbose=0)
    ref = {"bleu4": (bleu[3], bleu_each[3])}
    for name, scorer in (("meteor", Meteor()), ("rouge_l", Rouge()), ("cider", Cider())):
        ref[name] = scorer.compute_score(gts, res)
    return ours, ref


@pytest.mark.parametrize("name", ["bleu4", "meteor", "rouge_l", "cider"])
def test_matches_pycocoevalcap(scored, name):
    (corpus, samples), ref = scored
    assert corpus[name] == pytest.approx(float(ref[name][0]), abs=1e-6)
    assert samples[name] == pytest.approx([float(v) for v in ref[name][1]], abs=1e-6)


def test_scores_rank_hypotheses_sensibly(scored):
    (_, samples), _ = scored
    for name in ("meteor", "rouge_l", "cider"):
        s = samples[name]
        assert s[4] == 0.0  # empty output
        assert s[5] > s[3]  # a copied reference beats another image's caption
        assert s[1] > 0.0


def test_missing_java_is_explained(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(RuntimeError, match="need Java"):
        caption_scores(["a cat"], [["a cat"]])
    with pytest.raises(RuntimeError, match="need Java"):
        captioning.require_java()


def test_bad_inputs():
    with pytest.raises(KeyError, match="spice.*known: bleu4, cider, meteor, rouge_l"):
        caption_scores(["a"], [["a"]], metrics=["spice"])
    with pytest.raises(ValueError, match="2 hypotheses for 1"):
        caption_scores(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="references of sample 0"):
        caption_scores(["a"], [[]])
    with pytest.raises(TypeError, match="single string"):
        caption_scores("a cat", [["a cat"]])
    assert all(v != v for v in caption_scores([], []).values())  # NaN for no samples
