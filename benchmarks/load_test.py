"""Load test of ``vistakit serve``: N concurrent clients on loopback, valid and malformed requests mixed; then
the dynamic-batching check (the same 16 valid requests sent concurrently vs one after another).

    .venv/bin/python benchmarks/load_test.py                       # starts `vistakit serve` on a free port
    .venv/bin/python benchmarks/load_test.py --compare-unbatched   # … and a --max-batch-size 1 server beside it
    .venv/bin/python benchmarks/load_test.py --url http://127.0.0.1:8000   # an existing server

Valid requests cycle through /v1/predict (rec, res, reg with a box region, which_image over two images) and
/v1/chat/completions (a caption, a question); the malformed ones (``--malformed``, default 10 %) cycle through
four kinds: broken JSON, a corrupt image, a ``file://`` URL and a wrong schema. Images are ShapesWorld scenes.

Reports throughput, p50/p99 latency, counts by status and by kind, and checks the bar: every malformed request a
4xx, every valid one a 200, no 5xx, the server alive afterwards, and the 16 concurrent requests at least 4× faster
than the same 16 sequentially. Exits 1 when the bar is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import numpy as np
from PIL import Image

from vistakit.data.shapesworld import SceneConfig, SceneSampler, render

MALFORMED_KINDS = ("broken_json", "corrupt_image", "file_url", "wrong_schema")


@dataclass
class Call:
    kind: str
    route: str
    body: bytes  # sent as is, so clients spend no time encoding
    valid: bool


@dataclass
class Outcome:
    kind: str
    valid: bool
    status: int  # 0: no answer (connection error)
    seconds: float


# --- requests ---------------------------------------------------------------------------------------------------
def scene_urls(n: int, seed: int) -> list[str]:
    """``n`` ShapesWorld scenes (128 px; every other one cropped to 128×96) as PNG data URLs."""
    rng = np.random.default_rng(seed)
    sampler = SceneSampler(SceneConfig(size=128))
    out = []
    for k in range(n):
        img = render(sampler.sample(rng))
        buf = io.BytesIO()
        Image.fromarray(img if k % 2 == 0 else img[:96]).save(buf, "PNG")
        out.append("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode())
    return out


def valid_call(i: int, urls: list[str], model: str) -> Call:
    """The i-th valid request of the mix."""
    a, b = urls[i % len(urls)], urls[(i + 1) % len(urls)]

    def predict(kind: str, **body) -> Call:
        return Call(kind, "/v1/predict", json.dumps(body).encode(), True)

    def chat(kind: str, text: str) -> Call:
        content = [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": a}}]
        body = {"model": model, "messages": [{"role": "user", "content": content}]}
        return Call(kind, "/v1/chat/completions", json.dumps(body).encode(), True)

    mix = [
        lambda: predict("rec", images=[a], prompt="Where is the red circle?", task="rec"),
        lambda: chat("chat_caption", "Describe the image."),
        lambda: predict("res", images=[a], prompt="Segment the blue square.", task="res"),
        lambda: predict(
            "reg",
            images=[a],
            prompt="Describe the region <region>.",
            regions=[{"type": "box", "image": 0, "box": [16, 16, 80, 80]}],
        ),
        lambda: chat("chat_vqa", "How many shapes are there?"),
        lambda: predict("which_image", images=[a, b], prompt="Which image has a star?", task="which_image"),
    ]
    return mix[i % len(mix)]()


def malformed_call(i: int, urls: list[str], model: str) -> Call:
    """The i-th malformed request: the four kinds in turn, on both routes."""
    kind = MALFORMED_KINDS[i % len(MALFORMED_KINDS)]
    on_chat = (i // len(MALFORMED_KINDS)) % 2 == 1
    corrupt = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + os.urandom(200)).decode()
    image = {"broken_json": urls[0], "corrupt_image": corrupt, "file_url": "file:///etc/passwd"}.get(kind, urls[0])
    if on_chat:
        content = [{"type": "text", "text": "Describe the image."}, {"type": "image_url", "image_url": {"url": image}}]
        body: dict = {"model": model, "messages": [{"role": "user", "content": content}]}
        if kind == "wrong_schema":
            body["messages"] = "Describe the image."  # a string where a list of messages belongs
        route = "/v1/chat/completions"
    else:
        body = {"images": [image], "prompt": "Where is the red circle?", "task": "rec"}
        if kind == "wrong_schema":
            body = {"image": image, "prompt": ["Where", "is", "it?"]}
        route = "/v1/predict"
    raw = json.dumps(body).encode()
    if kind == "broken_json":
        raw = raw[: len(raw) // 2]  # cut mid-body
    return Call(f"bad_{kind}", route, raw, False)


def workload(n: int, malformed: float, urls: list[str], model: str, seed: int) -> list[Call]:
    n_bad = round(n * malformed)
    calls = [valid_call(i, urls, model) for i in range(n - n_bad)] + [
        malformed_call(i, urls, model) for i in range(n_bad)
    ]
    random.Random(seed).shuffle(calls)
    return calls


# --- sending ----------------------------------------------------------------------------------------------------
async def send(http: httpx.AsyncClient, call: Call) -> Outcome:
    t0 = time.perf_counter()
    try:
        r = await http.post(call.route, content=call.body, headers={"content-type": "application/json"})
        status = r.status_code
    except httpx.HTTPError:
        status = 0
    return Outcome(call.kind, call.valid, status, time.perf_counter() - t0)


async def run_clients(url: str, calls: list[Call], clients: int) -> tuple[list[Outcome], float]:
    """``clients`` workers take the calls in order from one queue; (outcomes, wall seconds)."""
    queue: asyncio.Queue[Call] = asyncio.Queue()
    for c in calls:
        queue.put_nowait(c)
    out: list[Outcome] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as http:

        async def worker() -> None:
            while not queue.empty():
                out.append(await send(http, queue.get_nowait()))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return out, time.perf_counter() - t0


async def batching_check(url: str, calls: list[Call], reps: int) -> tuple[float, float, list[int]]:
    """Median seconds for ``calls`` sent concurrently and sent one after another (after a warm-up of each)."""
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=httpx.Limits(max_connections=len(calls))) as http:

        async def together() -> list[int]:
            return [o.status for o in await asyncio.gather(*(send(http, c) for c in calls))]

        async def in_turn() -> list[int]:
            return [(await send(http, c)).status for c in calls]

        statuses: list[int] = []
        times: dict[str, list[float]] = {"together": [], "in_turn": []}
        for rep in range(reps + 1):
            for name, fn in (("together", together), ("in_turn", in_turn)):
                t0 = time.perf_counter()
                statuses += await fn()
                if rep:  # rep 0 warms up
                    times[name].append(time.perf_counter() - t0)
        return statistics.median(times["together"]), statistics.median(times["in_turn"]), statuses


# --- the server -------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(args: argparse.Namespace, max_batch_size: int) -> Iterator[str]:
    """``vistakit serve`` in a subprocess on a free port; yields its URL once /health answers."""
    port = free_port()
    cmd = [sys.executable, "-m", "vistakit", "serve", "--port", str(port), "--log-level", "warning",
           "--max-batch-size", str(max_batch_size), "--max-wait-ms", str(args.max_wait_ms), "--device", args.device,
           "--precision", args.precision]  # fmt: skip
    if args.checkpoint:
        cmd += ["--checkpoint", args.checkpoint]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.Popen(cmd)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with code {proc.returncode} before answering: {' '.join(cmd)}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not answer /health within 120 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# --- report -----------------------------------------------------------------------------------------------------
def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) * 1000 if xs else float("nan")


def report_load(outcomes: list[Outcome], wall: float) -> list[str]:
    """Markdown lines: throughput and latency, then counts by status and by kind."""
    lat = [o.seconds for o in outcomes]
    valid_lat = [o.seconds for o in outcomes if o.valid and o.status == 200]
    statuses = Counter(o.status for o in outcomes)
    lines = [
        (
            f"{len(outcomes)} requests in {wall:.2f} s: **{len(outcomes) / wall:.1f} requests/s**; latency p50 "
            f"{pct(lat, 50):.0f} ms, p99 {pct(lat, 99):.0f} ms (valid 200s: p50 {pct(valid_lat, 50):.0f} ms, "
            f"p99 {pct(valid_lat, 99):.0f} ms)"
        ),
        "",
        "| status | count |",
        "|---|---|",
        *(f"| {s or 'no answer'} | {n} |" for s, n in sorted(statuses.items())),
        "",
        "| kind | sent | statuses | p50 ms |",
        "|---|---|---|---|",
    ]
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_kind[o.kind].append(o)
    for kind in sorted(by_kind, key=lambda k: (k.startswith("bad_"), k)):
        os_ = by_kind[kind]
        st = ", ".join(f"{s}×{n}" for s, n in sorted(Counter(o.status for o in os_).items()))
        lines.append(f"| {kind} | {len(os_)} | {st} | {pct([o.seconds for o in os_], 50):.0f} |")
    return lines


def bar_failures(outcomes: list[Outcome], alive: bool) -> list[str]:
    fails = []
    bad_not_4xx = [o for o in outcomes if not o.valid and not 400 <= o.status < 500]
    good_not_200 = [o for o in outcomes if o.valid and o.status != 200]
    server_errors = [o for o in outcomes if o.status >= 500 or o.status == 0]
    if bad_not_4xx:
        fails.append(
            f"{len(bad_not_4xx)} malformed requests did not get a 4xx: {Counter((o.kind, o.status) for o in bad_not_4xx)}"
        )
    if good_not_200:
        fails.append(
            f"{len(good_not_200)} valid requests did not get a 200: {Counter((o.kind, o.status) for o in good_not_200)}"
        )
    if server_errors:
        fails.append(f"{len(server_errors)} requests got a 5xx or no answer")
    if not alive:
        fails.append("the server did not answer /health and a valid request afterwards")
    return fails


async def alive_after(url: str, call: Call) -> bool:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        health = await http.get("/health")
        again = await send(http, call)
    return health.status_code == 200 and again.status == 200


def measure(url: str, args: argparse.Namespace, label: str) -> tuple[list[str], list[str], float]:
    """The load run and the batching check against ``url``: (markdown lines, bar failures, speed-up)."""
    model = httpx.get(f"{url}/v1/models", timeout=10).json()["data"][0]["id"]
    urls = scene_urls(8, args.seed)
    calls = workload(args.requests, args.malformed, urls, model, args.seed)
    outcomes, wall = asyncio.run(run_clients(url, calls, args.clients))
    sizes = httpx.get(f"{url}/health", timeout=10).json()["batching"]["batch_sizes"]
    alive = asyncio.run(alive_after(url, valid_call(0, urls, model)))
    shown = ", ".join(f"{n}×{k}" for k, n in sorted(sizes.items(), key=lambda kv: int(kv[0])))
    lines = [f"### {label}", "", (f"{args.clients} concurrent clients, {args.requests} requests, "
             f"{sum(not c.valid for c in calls)} malformed"), "", *report_load(outcomes, wall), "",
             f"model calls by batch size (count×size): {shown}"]  # fmt: skip
    fails = bar_failures(outcomes, alive)
    batch = [valid_call(6 * k, urls, model) for k in range(args.batch_check)]  # rec requests on different scenes
    together, in_turn, statuses = asyncio.run(batching_check(url, batch, args.reps))
    speedup = in_turn / together
    health = httpx.get(f"{url}/health", timeout=10).json()["batching"]
    lines += ["", (f"{len(batch)} valid requests (rec), median of {args.reps}: concurrently **{together * 1000:.0f} ms**, "
              f"one after another **{in_turn * 1000:.0f} ms**: **{speedup:.1f}×** (server: max_wait_ms "
              f"{health['max_wait_ms']:g}, max_batch_size {health['max_batch_size']})")]  # fmt: skip
    if any(s != 200 for s in statuses):
        fails.append(f"batching check: statuses {Counter(statuses)}")
    return lines, fails, speedup


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default=None, help="an existing server (default: start `vistakit serve` on a free port)")
    ap.add_argument("--checkpoint", default=None, help="model for the started server (default: the reference)")
    ap.add_argument("--device", default="cpu", help="device of the started server (default cpu)")
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads of the started server (default 1; 0: torch's)"
    )
    ap.add_argument("--max-wait-ms", type=float, default=10.0, help="the started server's batching window")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16"), help="the started server's precision")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--malformed", type=float, default=0.1, help="fraction of malformed requests (default 0.1)")
    ap.add_argument("--batch-check", type=int, default=16, help="requests in the concurrent-vs-sequential check")
    ap.add_argument("--reps", type=int, default=3, help="repetitions of the batching check (median reported)")
    ap.add_argument("--min-speedup", type=float, default=4.0, help="the bar for the batching check (default 4×)")
    ap.add_argument("--compare-unbatched", action="store_true",
                    help="also measure a server started with --max-batch-size 1 (shows what batching buys)")  # fmt: skip
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.url and args.compare_unbatched:
        ap.error("--compare-unbatched starts its own servers; drop --url")

    if args.url:
        lines, fails, speedup = measure(args.url, args, f"server at {args.url}")
    else:
        with server(args, 16) as url:
            lines, fails, speedup = measure(url, args, "max_batch_size 16")
    if speedup < args.min_speedup:
        fails.append(f"batching check: {speedup:.1f}× is below the bar of {args.min_speedup}×")
    if args.compare_unbatched:
        with server(args, 1) as url:
            more, _, _ = measure(url, args, "max_batch_size 1 (no batching, for comparison)")
        lines += ["", *more]
    print("\n".join(lines))
    print()
    if fails:
        print("BAR MISSED:\n" + "\n".join(f"- {f}" for f in fails))
        return 1
    print("bar met: every malformed request a 4xx, every valid one a 200, no 5xx, the server alive afterwards, "
          f"batching {speedup:.1f}× ≥ {args.min_speedup}×")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
