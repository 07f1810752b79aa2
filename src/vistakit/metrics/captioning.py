"""Caption metrics through pycocoevalcap (the COCO caption evaluation code): BLEU-4, METEOR, ROUGE-L, CIDEr-D.

Texts are tokenised with pycocoevalcap's ``PTBTokenizer`` (Stanford PTBTokenizer, lower-cased, punctuation
removed) exactly as the COCO caption server does, then scored by its scorers. **Java is required**: the
tokenizer and METEOR 1.5 are Java programs shipped inside the pycocoevalcap wheel (no download; SPICE, which
would download Stanford CoreNLP, is not used). pycocoevalcap writes a temporary file next to its tokenizer
jar, so its package folder must be writable.

Scores are corpus-level as in coco-caption: BLEU-4 over the whole corpus, METEOR's aggregate, mean ROUGE-L,
and mean CIDEr-D whose IDF weights come from the references of the evaluated set (so CIDEr of one sample
depends on the others). Values are fractions (CIDEr-D is unbounded above, ~0–10), not percentages.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from typing import Callable, Sequence

from ..registry import Registry

CAPTION_METRICS = ("bleu4", "meteor", "rouge_l", "cider")
JAVA_HINT = (
    "caption metrics need Java: pycocoevalcap runs the Stanford PTBTokenizer and METEOR 1.5 as Java programs; "
    "install a Java runtime (e.g. `apt-get install default-jre-headless`) and make sure `java` is on PATH"
)

Tokenized = dict[int, list[str]]
# name → function (tokenised refs, tokenised hyps) → (corpus score, per-sample scores)
SCORERS: Registry[Callable[[Tokenized, Tokenized], tuple[float, list[float]]]] = Registry("caption metric")


@SCORERS.register("bleu4")
def _bleu4(gts: Tokenized, res: Tokenized) -> tuple[float, list[float]]:
    from pycocoevalcap.bleu.bleu import Bleu

    score, scores = Bleu(4).compute_score(gts, res, verbose=0)
    return float(score[3]), [float(s) for s in scores[3]]


@SCORERS.register("meteor")
def _meteor(gts: Tokenized, res: Tokenized) -> tuple[float, list[float]]:
    from pycocoevalcap.meteor.meteor import Meteor

    scorer = Meteor()  # starts the METEOR jar; its __del__ stops it when this frame drops the reference
    score, scores = scorer.compute_score(gts, res)
    return float(score), [float(s) for s in scores]


@SCORERS.register("rouge_l")
def _rouge_l(gts: Tokenized, res: Tokenized) -> tuple[float, list[float]]:
    from pycocoevalcap.rouge.rouge import Rouge

    score, scores = Rouge().compute_score(gts, res)
    return float(score), [float(s) for s in scores]


@SCORERS.register("cider")
def _cider(gts: Tokenized, res: Tokenized) -> tuple[float, list[float]]:
    from pycocoevalcap.cider.cider import Cider  # pycocoevalcap's Cider is CIDEr-D (sigma 6, clipped counts)

    score, scores = Cider().compute_score(gts, res)
    return float(score), [float(s) for s in scores]


def require_java() -> str:
    """Path of the ``java`` executable; RuntimeError explaining the dependency when it is missing."""
    java = shutil.which("java")
    if java is None:
        raise RuntimeError(JAVA_HINT)
    return java


def _check(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> None:
    if isinstance(hyps, str):
        raise TypeError("hypotheses must be a list of strings (one per sample), got a single string")
    if len(hyps) != len(refs):
        raise ValueError(f"got {len(hyps)} hypotheses for {len(refs)} reference lists; expected one each")
    for i, (h, r) in enumerate(zip(hyps, refs)):
        if not isinstance(h, str):
            raise TypeError(f"hypothesis {i} must be a string, got {type(h).__name__}")
        if isinstance(r, str) or not r or not all(isinstance(x, str) for x in r):
            raise ValueError(f"references of sample {i} must be a non-empty list of strings, got {r!r:.80}")


def tokenize(texts: dict[int, list[str]]) -> Tokenized:
    """PTB-tokenise ``{sample: [text, ...]}`` with pycocoevalcap's tokenizer (Java)."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    require_java()
    # One line per text: the tokenizer splits its output on newlines.
    data = {k: [{"caption": " ".join(t.split())} for t in v] for k, v in texts.items()}
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            out = PTBTokenizer().tokenize(data)
    except OSError as exc:
        raise RuntimeError(f"{JAVA_HINT} (and pycocoevalcap's folder must be writable): {exc}") from None
    # The tokenizer drops trailing empty lines; an empty text tokenises to nothing.
    return {k: (out.get(k, []) + [""] * len(v))[: len(v)] for k, v in texts.items()}


def caption_scores(
    hyps: Sequence[str],
    refs: Sequence[Sequence[str]],
    metrics: Sequence[str] = CAPTION_METRICS,
    per_sample: bool = False,
) -> dict[str, float] | tuple[dict[str, float], dict[str, list[float]]]:
    """Corpus caption scores ``{name: score}`` for ``metrics`` (a subset of bleu4, meteor, rouge_l, cider).

    ``hyps[i]`` is the generated text of sample i and ``refs[i]`` its reference texts (at least one).
    With ``per_sample`` also return ``{name: [score of sample i, ...]}``. Empty input gives NaN scores.
    RuntimeError when Java is missing (see module docstring).
    """
    _check(hyps, refs)
    for name in metrics:
        SCORERS.get(name)  # unknown name → KeyError listing the known ones, before starting Java
    if not hyps:
        nan = {name: float("nan") for name in metrics}
        return (nan, {name: [] for name in metrics}) if per_sample else nan
    n = len(hyps)  # one tokenizer run (one JVM start) for references and hypotheses: keys < n refs, >= n hyps
    tokens = tokenize({**{i: list(r) for i, r in enumerate(refs)}, **{n + i: [h] for i, h in enumerate(hyps)}})
    gts = {i: tokens[i] for i in range(n)}
    res = {i: tokens[n + i] for i in range(n)}
    corpus: dict[str, float] = {}
    samples: dict[str, list[float]] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for name in metrics:
            corpus[name], samples[name] = SCORERS.get(name)(gts, res)
    return (corpus, samples) if per_sample else corpus
