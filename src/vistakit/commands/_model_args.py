"""Arguments and loading shared by the commands that run a trained model (``eval``, ``predict``): which
checkpoint (default: the shipped reference model), which device, and the generation settings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..paths import REFERENCE_CHECKPOINT as REFERENCE

HOW_TO_TRAIN = (
    "vistakit data generate --out data/sw --split train --n 20000 && "
    "vistakit data generate --out data/sw --split val --n 500 && "
    "vistakit train --preset tiny --data data/sw --out runs/tiny"
)


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", default=None,
                   help="model directory (a training --out folder or a checkpoints/step-N folder); "
                        "default: the shipped reference model")  # fmt: skip
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda:0, … (default auto)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: $VISTAKIT_THREADS, else 1; see docs/serving.md)")
    p.add_argument("--max-new-tokens", type=int, default=256, help="most tokens to generate per answer (default 256)")
    p.add_argument("--beams", type=int, default=1, help="beam search width (default 1: greedy)")
    p.add_argument("--no-constrain", action="store_true",
                   help="let the model write malformed location spans (default: constrained decoding)")  # fmt: skip
    p.add_argument("--locations", choices=("tokens", "head"), default=None,
                   help="read each location's bin from the LM's <loc_k> scores (tokens) or from the location "
                        "head's regression (head; models trained with lm.location_weight > 0); default: the "
                        "model's lm.location_readout")  # fmt: skip
    p.add_argument("--masks", choices=("decoder", "points"), default=None,
                   help="take each mask from the mask decoder (decoder; models trained with "
                        "mask_decoder.enabled) or from the polygon the LM wrote (points); default: the model's "
                        "mask_decoder.readout")  # fmt: skip


def checkpoint_path(arg: str | None) -> Path:
    """The checkpoint folder to load: ``arg``, else the reference model; clear errors when either is missing."""
    if arg is None:
        if not (REFERENCE / "config.json").is_file():
            raise FileNotFoundError(
                f"no --checkpoint given and no shipped reference model at {REFERENCE}; train one "
                f"({HOW_TO_TRAIN}) and pass --checkpoint runs/tiny"
            )
        return REFERENCE
    path = Path(arg)
    if not path.is_dir():
        raise FileNotFoundError(f"--checkpoint {arg}: no such folder")
    if not (path / "config.json").is_file():
        hint = ""
        if (path / "checkpoints").is_dir():
            hint = " (this looks like an unfinished training run: pass one of its checkpoints/step-N folders)"
        raise FileNotFoundError(f"--checkpoint {arg}: no config.json, so not a vistakit model folder{hint}")
    return path


def load_engine(args: argparse.Namespace) -> Any:
    """Load the checkpoint named by ``args`` onto its device and wrap it in an :class:`Engine`."""
    import torch

    from ..model import Engine, load_pretrained

    from ..threads import inference_threads

    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(inference_threads(args.threads))  # default 1 (threads.py)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))  # fmt: skip
    model, processor = load_pretrained(checkpoint_path(args.checkpoint))
    model.to(device)
    return Engine(model, processor, device)


def generation_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    if args.max_new_tokens < 1 or args.beams < 1:
        raise ValueError(f"--max-new-tokens and --beams must be >= 1, got {args.max_new_tokens} and {args.beams}")
    out = {"max_new_tokens": args.max_new_tokens, "num_beams": args.beams, "constrained": not args.no_constrain}
    if getattr(args, "locations", None) is not None:
        out["locations"] = args.locations
    if getattr(args, "masks", None) is not None:
        out["masks"] = args.masks
    return out
