"""The README's quick tour runs as written: every fenced block after a ``<!-- tour -->`` line, in order, in a
scratch copy of the repository's layout (``src/`` and ``../shared/`` reachable as from the repository root).

Shell blocks run line by line (``\\`` continues a line) with ``.venv/bin`` first on the PATH; a line ending in ``&``
starts a background server, which the test waits for and stops at the end. Python blocks run in one namespace, in
order. To keep the test to about a minute, three sizes are cut down (the README says so): ``--limit N`` → 2,
``--per-task N`` → 1, ``steps=N`` → 2; the server's port becomes a free one. Nothing else is changed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARK = "<!-- tour -->"
SMALLER = ((r"--limit \d+", "--limit 2"), (r"--per-task \d+", "--per-task 1"), (r"\bsteps=\d+", "steps=2"))


def tour_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, code)`` of every fenced block that follows a ``<!-- tour -->`` line, in order."""
    blocks = re.findall(r"^" + re.escape(MARK) + r"\n```(\w+)\n(.*?)^```", text, re.M | re.S)
    if not blocks:
        raise ValueError(f"{README}: no fenced block after a {MARK!r} line")
    return blocks


def shell_lines(code: str) -> list[str]:
    """One command per entry: ``\\``-continued lines joined, blank lines dropped."""
    return [c.strip() for c in code.replace("\\\n", " ").splitlines() if c.strip() and not c.strip().startswith("#")]


def smaller(command: str) -> str:
    for pattern, repl in SMALLER:
        command = re.sub(pattern, repl, command)
    return command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"the tour's server exited early: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the tour's server did not answer {url} within {seconds} s")


def test_the_readme_marks_its_tour():
    blocks = tour_blocks(README.read_text(encoding="utf-8"))
    kinds = [lang for lang, _ in blocks]
    assert set(kinds) == {"bash", "python"}, kinds
    commands = [c for lang, code in blocks if lang == "bash" for c in shell_lines(code)]
    assert all(c.startswith("vistakit ") for c in commands), commands  # the tour shows the installed command
    assert smaller("vistakit eval --limit 50 steps=200 --per-task 4") == "vistakit eval --limit 2 steps=2 --per-task 1"


@pytest.mark.timeout(900)
def test_the_tour_runs_as_written(tmp_path, one_thread):
    shared = ROOT.parent / "shared"
    if not (shared / "data" / "coco_tiny").is_dir():
        pytest.skip("../shared/data is not available")
    work = tmp_path / "repo"
    work.mkdir()
    (work / "src").symlink_to(ROOT / "src")
    (tmp_path / "shared").symlink_to(shared)
    port = _free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "OMP_NUM_THREADS": "1", "VISTAKIT_SHARED_DATA": str(shared / "data")}  # fmt: skip
    namespace: dict = {"__name__": "__tour__"}
    servers: list[subprocess.Popen] = []
    cwd = os.getcwd()
    os.chdir(work)
    try:
        for lang, code in tour_blocks(README.read_text(encoding="utf-8")):
            code = code.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace("--port 8000", f"--port {port}")
            if lang == "python":
                exec(compile(code, f"README tour ({code.splitlines()[0]!r}…)", "exec"), namespace)
                continue
            for command in shell_lines(code):
                command = smaller(command)
                if command.endswith("&"):
                    proc = subprocess.Popen(shlex.split(command[:-1]), env=env, cwd=work, text=True,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
                    servers.append(proc)
                    _wait_for(f"http://127.0.0.1:{port}/health", proc)
                    continue
                done = subprocess.run(["bash", "-euo", "pipefail", "-c", command], env=env, cwd=work,
                                      capture_output=True, text=True, timeout=600)  # fmt: skip
                assert done.returncode == 0, f"tour command failed: {command}\n{done.stdout}\n{done.stderr}"
    finally:
        os.chdir(cwd)
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=30)
    # what the tour says it makes, it made
    for made in ("grid.png", "overlay.png", "results.json", "preds/rec.jsonl", "demo/results.md", "demo/gallery.html",
                 "codec.json", "data/coco_tiny/train2017.jsonl", "runs/ft/model.safetensors", "rec.png"):  # fmt: skip
        assert (work / made).is_file(), made
    assert set(json.loads((work / "results.json").read_text())) == {"rec", "res", "vqa", "which_image"}
    assert "samplers" in json.loads((work / "codec.json").read_text())
    assert namespace["reply"].choices[0].message.content is not None
