"""``vistakit`` command line: a thin table from subcommand words to the module that implements them.

Each command module (``vistakit.commands.*``) exposes ``configure(parser)`` and ``run(args) -> int`` and keeps
its heavy imports inside ``run`` so ``vistakit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from .threads import INFERENCE_COMMANDS, prefer_passive_waiting

# (words, module, one-line help)
COMMANDS: list[tuple[tuple[str, ...], str, str]] = [
    (("bench", "codec"), "vistakit.commands.bench_codec", "mask → points → tokens → mask: IoU and speed per sampler"),
    (("data", "convert"), "vistakit.commands.data_convert", "a real data set in its public format → a vistakit dataset folder"),
    (("data", "generate"), "vistakit.commands.data_generate", "write a ShapesWorld split in the unified format"),
    (("data", "show"), "vistakit.commands.data_show", "draw samples of a data set with their annotations in a grid"),
    (("data", "domain"), "vistakit.commands.data_domain", "summarise training data as a checkpoint's training domain"),
    (("score",), "vistakit.commands.score", "score a predictions .jsonl against gold records for one task"),
    (("train",), "vistakit.commands.train", "train a model from a preset on a data folder (checkpoints, logs, curves)"),
    (("plan",), "vistakit.commands.plan", "per-GPU memory and step time of a preset under DDP, FSDP, FSDP + LoRA"),
    (("fit-relevance",), "vistakit.commands.fit_relevance", "fit a checkpoint's relevance head alone on comparison questions"),
    (("eval",), "vistakit.commands.evaluate", "run a model over a split, task by task, and print its metrics"),
    (("predict",), "vistakit.commands.predict", "answer a prompt about images; print and draw the typed results"),
    (("demo",), "vistakit.commands.demo", "fresh ShapesWorld scenes → the model on every task → overlays + table"),
    (("serve",), "vistakit.commands.serve", "serve a model over HTTP: OpenAI-compatible chat, /v1/predict, a web page"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vistakit", description="vistakit: coarse-to-fine vision-language toolkit")
    groups: dict[tuple[str, ...], argparse._SubParsersAction] = {(): parser.add_subparsers(dest="cmd0", metavar="COMMAND")}
    for words, module, help_ in COMMANDS:
        for depth in range(1, len(words)):
            prefix = words[:depth]
            if prefix not in groups:
                sub = groups[prefix[:-1]].add_parser(prefix[-1], help=f"{prefix[-1]} commands")
                groups[prefix] = sub.add_subparsers(dest=f"cmd{depth}", metavar="COMMAND")
        p = groups[words[:-1]].add_parser(words[-1], help=help_, description=help_)
        p.set_defaults(_module=module)
        importlib.import_module(module).configure(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    module = getattr(args, "_module", None)
    if module is None:
        parser.print_help()
        return 2
    if args.cmd0 in INFERENCE_COMMANDS:  # before the command imports torch: waiting threads sleep (threads.py)
        prefer_passive_waiting()
    try:
        return int(importlib.import_module(module).run(args) or 0)
    except (ValueError, TypeError, KeyError, FileNotFoundError) as exc:
        # Bad input: one clear line, no traceback.
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"vistakit: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
