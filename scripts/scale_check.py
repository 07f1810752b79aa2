"""The scale check (issue 47's bar; run by scripts/scale_check.sh): sharded training with LoRA on tiny random
Hugging Face models (a CLIP tower and a Llama LM written to a work folder, the ``vistallm-7b`` preset's code path
with its grounding parts), on the CPU with gloo:

1. one process, then two processes with ``parallel=fsdp`` (``vistakit train --procs 2``), then two with
   ``parallel=ddp``: the same per-step training losses — FSDP against DDP to ``--exact`` (the same arithmetic,
   sharded), FSDP against one process to ``--tol`` (two processes average two half-batch means where one process
   takes one whole-batch mean, so the losses differ by a little, not by a bug);
2. the FSDP run again under torchrun, ``kill -9`` of one of its processes after the step-``K`` checkpoint, then
   ``--resume``: the resumed run's losses after step ``K`` and its final consolidated weights equal the
   uninterrupted FSDP run's (to ``--exact``), and the consolidated checkpoint loads with ``load_pretrained``.

Prints every comparison; exits 1 if any fails. ``--quick``: fewer steps (the pytest runs this).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def make_models(work: Path) -> tuple[Path, Path]:
    """A tiny random CLIP vision tower and a tiny random Llama with its own BPE tokenizer."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import CLIPVisionConfig, CLIPVisionModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vision, lm = work / "clip", work / "llama"
    torch.manual_seed(0)
    CLIPVisionModel(CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                     image_size=32, patch_size=8)).save_pretrained(vision)  # fmt: skip
    texts = [json.loads(line)["prompt"] + " " + json.loads(line)["answer"]
             for line in (work / "data" / "train.jsonl").read_text().splitlines()]  # fmt: skip
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer, raw.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    raw.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))  # fmt: skip
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    tok.save_pretrained(lm)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                 num_attention_heads=2, max_position_embeddings=512)).save_pretrained(lm)  # fmt: skip
    return vision, lm


def make_data(work: Path) -> Path:
    from vistakit.data.shapesworld.generate import GenerateConfig, generate_split

    out = work / "data"
    generate_split(out, GenerateConfig(split="train", n=48, seed=5, tasks=("rec",), size=32))
    return out


def settings(work: Path, vision: Path, lm: Path, steps: int, save_every: int, lr: float) -> list[str]:
    return [
        "--preset", "vistallm-7b", "--data", str(work / "data"), "--no-progress", "--threads", "1",
        f"model.vision.hf_path={vision}", f"model.lm.hf_path={lm}", "model.image_tokenizer.dim=32",
        "model.image_tokenizer.depth=1", "model.image_tokenizer.heads=2", "model.image_tokenizer.num_queries=4",
        "model.mask_decoder.dim=8", f"steps={steps}", "batch_size=4", f"lr={lr}", "warmup=0", "schedule=constant",
        "eval_every=0", f"save_every={save_every}", "log_every=1", "tensorboard=false", "lora_r=4", "lora_alpha=8",
        "seed=0", "device=cpu",
    ]  # fmt: skip


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}


def train(args: list[str], out: Path, launcher: list[str] | None = None) -> str:
    cmd = (launcher or [str(BIN / "vistakit")]) + ["train"] + args + ["--out", str(out)]
    r = subprocess.run(cmd, env=env(), capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"FAILED to train ({' '.join(cmd)}):\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}")
    return r.stdout


def losses(out: Path) -> dict[int, float]:
    """Step → training loss from the run's log (the last line of a step a resumed run logged again wins)."""
    found = {}
    for line in (out / "train" / "log.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec.get("kind") == "train":
            found[int(rec["step"])] = float(rec["loss"])
    return found


def compare(name: str, a: dict[int, float], b: dict[int, float], tol: float, steps: list[int] | None = None) -> bool:
    steps = steps if steps is not None else sorted(a)
    if not steps or any(s not in a or s not in b for s in steps):
        print(f"FAIL {name}: steps missing (have {sorted(a)} and {sorted(b)}, need {steps})")
        return False
    diff = max(abs(a[s] - b[s]) for s in steps)
    ok = diff <= tol
    print(f"{'ok  ' if ok else 'FAIL'} {name}: steps {steps[0]}..{steps[-1]}, max |loss difference| {diff:.2e} "
          f"(tolerance {tol:g}); first {a[steps[0]]:.4f} vs {b[steps[0]]:.4f}, last {a[steps[-1]]:.4f} vs "
          f"{b[steps[-1]]:.4f}")  # fmt: skip
    return ok


def kill_one_after(out: Path, cmd: list[str], step: int) -> int:
    """Start ``cmd`` (a 2-process torchrun), wait until checkpoint ``step`` exists and a later step is logged,
    then ``kill -9`` one training process (a child of the launcher). Returns the launcher's exit code."""
    import psutil

    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip
    ckpt = out / "checkpoints" / f"step-{step:07d}" / "trainer_state.json"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if ckpt.is_file() and max(losses(out), default=0) > step:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        print(proc.stdout.read()[-3000:])
        sys.exit(f"FAILED: the run ended (code {proc.returncode}) before it could be killed after step {step}")
    workers = [c for c in psutil.Process(proc.pid).children(recursive=True) if "python" in c.name().lower()]
    victim = workers[-1]
    print(f"     killing training process {victim.pid} (kill -9) at step {max(losses(out))}, after checkpoint {step}")
    os.kill(victim.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher's own session: nothing else is in it
        proc.wait()
    return proc.returncode


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default=None, help="work folder (default: a new temporary one, removed after)")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--kill-after", type=int, default=None, help="checkpoint step to kill after (default steps/2)")
    p.add_argument("--tol", type=float, default=0.05, help="one process vs two: max |loss difference| per step")
    p.add_argument("--first-tol", type=float, default=2e-3,
                   help="one process vs two at step 1, before their weights can differ")  # fmt: skip
    p.add_argument("--exact", type=float, default=1e-4, help="FSDP vs DDP, and resumed vs uninterrupted")
    p.add_argument("--quick", action="store_true", help="8 steps, kill after 2")
    p.add_argument("--lr", type=float, default=3e-4,
                   help="peak learning rate (larger ones make this tiny random model's loss spiky, so float noise "
                        "between runs grows past the tolerances)")  # fmt: skip
    args = p.parse_args()
    steps = 8 if args.quick else args.steps
    k = args.kill_after or (2 if args.quick else steps // 2)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="vistakit-scale-"))
    try:
        work.mkdir(parents=True, exist_ok=True)
        make_data(work)
        vision, lm = make_models(work)
        base = settings(work, vision, lm, steps, save_every=0, lr=args.lr)
        t0 = time.time()
        train(base, work / "one")
        train(["--procs", "2"] + base + ["parallel=fsdp"], work / "fsdp")
        train(["--procs", "2"] + base + ["parallel=ddp"], work / "ddp")
        print(f"     trained 1 process, 2 FSDP, 2 DDP with LoRA r=4 for {steps} steps ({time.time() - t0:.0f} s)")
        ok = compare("FSDP (2 processes) vs DDP (2 processes)", losses(work / "fsdp"), losses(work / "ddp"), args.exact)
        ok &= compare("FSDP (2 processes) vs 1 process, step 1 (same weights)", losses(work / "fsdp"),
                      losses(work / "one"), args.first_tol, [1])  # fmt: skip
        ok &= compare("FSDP (2 processes) vs 1 process", losses(work / "fsdp"), losses(work / "one"), args.tol)

        killed = work / "killed"
        torchrun = [str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2", "-m", "vistakit"]
        kargs = settings(work, vision, lm, steps, save_every=k, lr=args.lr) + ["parallel=fsdp"]
        rc = kill_one_after(killed, torchrun + ["train"] + kargs + ["--out", str(killed)], k)
        print(f"{'ok  ' if rc else 'FAIL'} the killed run's launcher exited with code {rc} (non-zero expected)")
        ok &= rc != 0
        left = sorted(int(p.name[5:]) for p in (killed / "checkpoints").glob("step-*"))
        said = train(["--resume"] + kargs, killed, launcher=torchrun)
        resumed = f"resuming at step {k})" in said
        print(f"{'ok  ' if resumed else 'FAIL'} the kill left checkpoints {left}; --resume continued from step {k}"
              + ("" if resumed else f" (it said: {said[:400]!r})"))  # fmt: skip
        ok &= resumed
        ok &= compare(f"resumed after kill vs uninterrupted FSDP", losses(killed), losses(work / "fsdp"),
                      args.exact, list(range(k + 1, steps + 1)))  # fmt: skip
        ok &= same_weights(killed, work / "fsdp", args.exact)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print("scale check passed" if ok else "scale check FAILED")
    return 0 if ok else 1


def same_weights(a: Path, b: Path, tol: float) -> bool:
    """The two runs' consolidated final models load, carry the same LoRA adapters and base weights, and give the
    same merged weights."""
    import torch
    from safetensors.torch import load_file

    from vistakit.model import load_pretrained

    diffs = []
    for name in ("model.safetensors", "lora/lm/adapter_model.safetensors"):
        wa, wb = load_file(str(a / name)), load_file(str(b / name))
        if set(wa) != set(wb):
            print(f"FAIL {name}: different tensors")
            return False
        diffs.append(max(float((wa[t].float() - wb[t].float()).abs().max()) for t in wa))
    ma, _ = load_pretrained(a)
    mb, _ = load_pretrained(b)
    with torch.no_grad():
        merged = max(float((x - y).abs().max()) for x, y in zip(ma.state_dict().values(), mb.state_dict().values()))
    ok = max(diffs + [merged]) <= tol
    print(f"{'ok  ' if ok else 'FAIL'} final consolidated model, resumed vs uninterrupted: max |weight difference| "
          f"base {diffs[0]:.2e}, adapters {diffs[1]:.2e}, merged {merged:.2e} (tolerance {tol:g}); both load "
          f"with load_pretrained")  # fmt: skip
    return ok


if __name__ == "__main__":
    sys.exit(main())
