"""LLaVA-style conversation JSON → free-text records (``vqa`` by default, or ``caption``).

Source schema: a JSON list of ``{"id", "image", "conversations": [{"from": "human" | "gpt", "value": "..."}]}``;
the first human turn carries ``<image>`` (before or after the text). Entries without ``image`` (text-only data
in the LLaVA mixes) have no place in an image record and are skipped and counted.

Multi-turn choice: **one record per (human, gpt) pair**. Every record's prompt is ``<image>\\n`` + that human
turn (``<image>`` removed from the text, so each record stands alone and has exactly one placeholder), the
answer is the gpt turn (``targets.answers = [reply]``), and the turns before it are kept in
``meta["history"]`` (``[{"from", "value"}, ...]``) with ``meta["turn"]`` its 0-based index, so a trainer can
rebuild the whole conversation. Turns that do not alternate human → gpt are an error naming the entry.
Image sizes are read from the image file headers under ``--images``; entries whose image is missing are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..record import IMAGE_PLACEHOLDER, Targets
from .base import (
    Conversion,
    Converter,
    RecordBuilder,
    find_image,
    get_field,
    image_size_from_file,
    load_json,
    register_converter,
    require_dir,
)

TEXT_TASKS = ("vqa", "caption")


def convert_llava(
    annotations: str | Path,
    images: str | Path | None = None,
    split: str | None = None,
    task: str = "vqa",
    limit: int | None = None,
    seed: int = 0,
) -> Conversion:
    """One record of ``task`` per human → gpt exchange of each conversation with an image."""
    if task not in TEXT_TASKS:
        raise ValueError(f"llava task must be one of {list(TEXT_TASKS)}, got {task!r}")
    data = load_json(annotations, "LLaVA conversation JSON")
    path = Path(annotations)
    if not isinstance(data, list):
        raise ValueError(
            f"{path}: expected a JSON list of {{'id', 'image', 'conversations'}} entries, got {type(data).__name__}"
        )
    images_dir = require_dir(images, "--images")
    split = split or "train"
    conv = Conversion(source=f"LLaVA conversations {path.name}")
    builder = RecordBuilder(seed)
    n_turns = 0
    for i, entry in enumerate(data[:limit] if limit is not None else data):
        where = f"{path}: entry {i}"
        cid = str(get_field(entry, "id", (str, int), where))
        turns = get_field(entry, "conversations", list, where)
        n_turns += len(turns) // 2
        if "image" not in entry:
            conv.skip("text-only conversation (no image)")
            continue
        image = get_field(entry, "image", str, where)
        src = find_image(images_dir, image)
        if src is None:
            conv.skip("image not found under --images")
            continue
        size = image_size_from_file(src)
        rel = f"images/{image}"
        conv.image_sources[rel] = src
        history: list[dict[str, str]] = []
        for t in range(0, len(turns) - 1, 2):
            q, a = turns[t], turns[t + 1]
            for idx, turn, who in ((t, q, "human"), (t + 1, a, "gpt")):
                got = get_field(turn, "from", str, f"{where} conversations[{idx}]")
                if got != who:
                    raise ValueError(
                        f"{where}: conversations[{idx}] should come from {who!r} (turns alternate human, gpt), got {got!r}"
                    )
            question = get_field(q, "value", str, f"{where} conversations[{t}]").replace(IMAGE_PLACEHOLDER, "").strip()
            reply = get_field(a, "value", str, f"{where} conversations[{t + 1}]").strip()
            if not question or not reply:
                conv.skip("empty turn")
            else:
                meta = {"source": "llava", "conversation_id": cid, "turn": t // 2, "history": list(history)}
                rec = builder.build(task, f"llava-{split}-{cid}-t{t // 2}", [rel], [size], Targets(answers=[reply]),
                                    prompt=f"{IMAGE_PLACEHOLDER}\n{question}", meta=meta)  # fmt: skip
                conv.add(split, rec)
            history += [{"from": "human", "value": question}, {"from": "gpt", "value": reply}]
        if len(turns) % 2:
            conv.skip("unanswered final turn")
    conv.counts = {"conversations": len(data), "exchanges": n_turns}
    return conv


def _arguments(group: Any) -> None:
    group.add_argument("--task", choices=TEXT_TASKS, default="vqa", help="llava: task of the records (default vqa)")


register_converter(Converter(
    "llava", "LLaVA conversation JSON → vqa (or caption) records, one per human/gpt exchange",
    lambda a: convert_llava(a.annotations, a.images, a.split, a.task, a.limit, a.seed),
    _arguments,
))  # fmt: skip
