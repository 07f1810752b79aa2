"""NLVR2 (is a sentence true of a pair of photographs?) → ``nlvr`` records.

Source layout, as lil-lab/nlvr publishes it (``nlvr2/data/{train,dev,test1}.json``): JSON Lines, one example per
line with ``identifier`` (``split-set_id-pair_id-sentence_id``, e.g. ``dev-850-0-0``), ``sentence``, ``label``
(``"True"`` / ``"False"``), ``left_url`` / ``right_url``, and optional ``synset``, ``query``, ``writer``,
``validation``; train lines also carry ``directory`` (the numbered sub-folder the downloaded train images sit
in). The image pair of identifier ``split-set_id-pair_id-sentence_id`` is ``split-set_id-pair_id-img0.png``
(left) and ``...-img1.png`` (right); "png" is only the name, the bytes may be JPEG (sizes come from the header).

Images are looked up under ``--images`` as ``NAME``, ``<split>/NAME``, ``<directory>/NAME`` and
``<split>/<directory>/NAME``. The JSON holds no image sizes, so an example whose pair is not found is skipped and
counted. The answer is ``true`` / ``false`` (``targets.answers[0]``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..jsonl import iter_jsonl
from ..record import Targets
from .base import Conversion, Converter, RecordBuilder, get_field, image_size_from_file, register_converter, require_dir

_IDENTIFIER = re.compile(r"([A-Za-z0-9]+)-(\d+)-(\d+)-(\d+)")
_LABELS = {"true": "true", "false": "false"}


def pair_names(identifier: str, where: str) -> tuple[str, str, str]:
    """``(split, left file name, right file name)`` of an NLVR2 identifier, else ``ValueError`` naming ``where``."""
    m = _IDENTIFIER.fullmatch(identifier)
    if m is None:
        raise ValueError(
            f"{where}: identifier {identifier!r:.60} is not NLVR2's split-set_id-pair_id-sentence_id (e.g. dev-850-0-0)"
        )
    stem = identifier.rsplit("-", 1)[0]
    return m.group(1), f"{stem}-img0.png", f"{stem}-img1.png"


def find_pair_image(images_dir: Path, name: str, split: str, directory: Any) -> Path | None:
    """The file of ``name`` under ``images_dir`` in one of NLVR2's download layouts, else ``None``."""
    subdirs = [Path(), Path(split)]
    if isinstance(directory, (int, str)) and not isinstance(directory, bool) and str(directory).isdigit():
        subdirs += [Path(str(directory)), Path(split) / str(directory)]
    for sub in subdirs:
        cand = images_dir / sub / name
        if cand.is_file():
            return cand
    return None


def convert_nlvr2(
    annotations: str | Path,
    images: str | Path | None,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> Conversion:
    """One ``nlvr`` record per example whose two images are found under ``images``.

    ``split`` overrides the split named in each identifier; ``limit`` keeps the first N examples.
    """
    if images is None:
        raise ValueError("nlvr2 needs --images: the folder of the image pairs (the JSON lines hold no image sizes)")
    images_dir = require_dir(images, "--images")
    assert images_dir is not None
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of examples, got {limit}")
    path = Path(annotations)
    conv = Conversion(source=f"NLVR2 {path.name}")
    builder = RecordBuilder(seed)
    sizes: dict[Path, tuple[int, int]] = {}
    n = 0
    for where, obj in iter_jsonl(path, "NLVR2 JSON lines file"):
        if limit is not None and n >= limit:
            break
        n += 1
        identifier = get_field(obj, "identifier", str, where)
        id_split, left, right = pair_names(identifier, where)
        sentence = " ".join(get_field(obj, "sentence", str, where).split())
        label = get_field(obj, "label", str, where)
        answer = _LABELS.get(label.strip().lower())
        if answer is None:
            raise ValueError(f"{where}: label must be \"True\" or \"False\", got {label!r:.40}")
        if not sentence:
            conv.skip("empty sentence")
            continue
        found = [find_pair_image(images_dir, name, id_split, obj.get("directory")) for name in (left, right)]
        if None in found:
            conv.skip("image pair not found under --images")
            continue
        pair_sizes = [sizes.setdefault(p, image_size_from_file(p)) for p in found if p is not None]
        rels = [f"images/{left}", f"images/{right}"]
        for rel, p in zip(rels, found):
            conv.image_sources[rel] = p
        meta = {"source": "nlvr2", "identifier": identifier,
                **{k: obj[k] for k in ("synset", "query") if isinstance(obj.get(k), str)}}  # fmt: skip
        rec = builder.build("nlvr", f"nlvr2-{identifier}", rels, pair_sizes, Targets(answers=[answer]),
                            slots={"statement": sentence}, meta=meta)  # fmt: skip
        conv.add(split or id_split, rec)
    conv.counts = {"examples": n}
    return conv


register_converter(Converter(
    "nlvr2", "NLVR2 {train,dev,test1}.json (JSON lines) + --images (the pairs) → nlvr records",
    lambda a: convert_nlvr2(a.annotations, a.images, a.split, a.limit, a.seed),
))  # fmt: skip
