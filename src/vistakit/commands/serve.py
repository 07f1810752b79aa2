"""``vistakit serve``: the model behind an HTTP API (OpenAI-compatible chat completions, ``/v1/predict``, a web
page at ``/``) with dynamic batching. See docs/serving.md.

    vistakit serve                                   # the shipped reference model on http://127.0.0.1:8000
    vistakit serve --checkpoint runs/tiny --port 9000 --max-batch-size 32 --max-wait-ms 5
"""

from __future__ import annotations

import argparse


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", default=None, help="model directory (default: the shipped reference model)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda:0, … (default auto)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: $VISTAKIT_THREADS, else 1; see docs/serving.md)")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                   help="bf16: generate under bfloat16 autocast (fast on CPUs with AVX-512 BF16 / AMX and on GPUs; "
                        "default fp32)")
    p.add_argument("--max-batch-size", type=int, default=16, help="most requests per generation call (default 16)")
    p.add_argument("--max-wait-ms", type=float, default=10.0,
                   help="how long a request waits for others to batch with (default 10)")  # fmt: skip
    p.add_argument("--max-new-tokens", type=int, default=512,
                   help="most answer tokens a request may ask for (default 512; 256 when it asks nothing)")  # fmt: skip
    p.add_argument("--allow-file-dir", default=None,
                   help="accept file:// image URLs inside this folder (default: refused)")  # fmt: skip
    p.add_argument("--max-decoded-pixels", type=int, default=4 * 4096 * 4096,
                   help="most image pixels decoded at once across all requests; more wait, then get 503 "
                        "(default 4*4096*4096: one request of four 4096x4096 images)")  # fmt: skip
    p.add_argument("--request-timeout", type=float, default=30.0,
                   help="seconds a request may take to arrive whole (headers and body) before a 408 (default 30)")
    p.add_argument("--model-name", default=None, help="model id in /v1/models (default: the checkpoint folder's name)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"),
                   help="uvicorn's log level (default info; warning drops the access log)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    import torch
    import uvicorn

    from ..api import Vista
    from ..serve import ServeSettings, create_app
    from ..serve.server import uvicorn_config
    from ._model_args import checkpoint_path

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {args.port}")
    settings = ServeSettings(
        max_batch_size=args.max_batch_size, max_wait_ms=args.max_wait_ms, allowed_file_dir=args.allow_file_dir,
        max_new_tokens=args.max_new_tokens, default_new_tokens=min(256, args.max_new_tokens),
        model_name=args.model_name, max_decoded_pixels=args.max_decoded_pixels, request_timeout_s=args.request_timeout,
    )  # fmt: skip
    from ..threads import inference_threads

    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(inference_threads(args.threads))  # default 1 (threads.py)
    vista = Vista.from_pretrained(checkpoint_path(args.checkpoint), device=args.device, precision=args.precision)
    app = create_app(vista, settings)
    print(f"vistakit serve: model {settings.model_name or vista.name!r} on {vista.engine.device}; "
          f"http://{args.host}:{args.port}/ (API docs at /docs)", flush=True)  # fmt: skip
    uvicorn.Server(uvicorn_config(app, settings, host=args.host, port=args.port, log_level=args.log_level)).run()
    return 0
