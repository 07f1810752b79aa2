"""The training loop: a model from a preset (or a checkpoint to resume), task-mixture batches, AdamW with warmup
+ cosine, optional bf16 autocast, gradient accumulation and clipping, periodic validation and atomic
checkpoints, and the final model written into the output folder.

Output folder layout (``cfg.out``)::

    config.json, model.safetensors, tokenizer files   the final model (load_pretrained(out)), written at the end
    checkpoints/step-NNNNNNN/                          the newest ``keep_checkpoints`` training checkpoints
    train/train_config.json                            the settings of the run
    train/log.jsonl, train/tensorboard/, train/curves.png

A resumed run (``resume=True``) continues from the newest checkpoint at the same step with the same next batch
(batches are a pure function of ``(seed, step)``; model, optimizer, scheduler and RNG state are restored).

Data-parallel (:mod:`.distributed`: ``vistakit train --procs N`` or torchrun): every process runs this loop on its
share of each batch; gradients are averaged before each optimizer step and only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..data.dataset import RecordDataset
from ..data.domain import TrainingDomain, data_source, read_domain, summarize_records, write_domain
from ..data.record import Record
from ..model.modeling import VistaOutput
from ..model.lora import has_lora
from . import checkpoint as ckpt
from . import distributed, sharded
from .config import TrainConfig
from .curves import plot_curves
from .lora import apply_lora
from .log import AUX_LOSSES, RunLog
from .mixture import TaskMixture, fingerprint
from .optim import apply_stage, build_optimizer, build_scheduler

TRAIN_DIR = "train"


@dataclass
class TrainResult:
    """What a run ended with: the output folder, optimizer steps done, the last logged train loss and the
    last validation loss (``None`` without validation data)."""

    out: Path
    step: int
    loss: float
    val_loss: float | None
    finished: bool


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ValueError(
            f"train setting device must be 'auto' or a torch device like cpu / cuda:0, got {name!r}"
        ) from None


def _split_records(cfg: TrainConfig, split: str, required: bool) -> list[Record] | None:
    path = Path(cfg.data) / f"{split}.jsonl"
    if not path.is_file():
        if required:
            found = sorted(p.stem for p in Path(cfg.data).glob("*.jsonl")) if Path(cfg.data).is_dir() else []
            raise FileNotFoundError(f"no {split!r} split in the data folder {cfg.data} (expected {path}; "
                                    f"found: {', '.join(found) or 'none'})")  # fmt: skip
        return None
    records = list(RecordDataset(path, tasks=cfg.tasks or None))
    missing = sorted(set(cfg.tasks) - {r.task for r in records})
    if required and missing:
        raise ValueError(f"{path} has no records of task(s) {missing}")
    return records


def training_domain(cfg: TrainConfig, records: list[Record], mixture: TaskMixture) -> TrainingDomain:
    """What this run trains on (the tasks its mixture gives weight, the data's source and images), together with
    what the ``init`` checkpoint recorded (:mod:`vistakit.data.domain`)."""
    tasks = [t for t, w in mixture.weights().items() if w > 0]
    ours = summarize_records(records, [data_source(cfg.data)], tasks, note=f"{cfg.data} ({cfg.train_split})")
    return ours.merged(read_domain(cfg.init) if cfg.init else None)


class Trainer:
    """One training run of ``cfg``. ``progress``: show a tqdm bar; ``echo``: print one line per logged step
    instead (for logs that are not a terminal). Build it, then call :meth:`run`."""

    def __init__(
        self,
        cfg: TrainConfig,
        resume: bool = False,
        progress: bool = True,
        echo: bool = False,
        dist: distributed.Context | None = None,
    ) -> None:
        if not cfg.data or not cfg.out:
            raise ValueError("training needs a data folder (data=DIR / --data) and an output folder (out=DIR / --out)")
        self.cfg = cfg.validate()
        self.dist = distributed.env_context() if dist is None else dist
        if self.dist.active and cfg.batch_size % self.dist.world:
            raise ValueError(f"batch_size {cfg.batch_size} must be a multiple of the {self.dist.world} data-parallel "
                             f"processes (each takes an equal share of every batch)")  # fmt: skip
        self.out = Path(cfg.out)
        self.progress = progress and self.dist.main
        self.echo = echo and not progress and self.dist.main
        self.device = distributed.init(self.dist, resolve_device(cfg.device))
        latest = ckpt.latest_checkpoint(self.out)
        self.skipped_checkpoints: list[tuple[Path, str]] = []  # damaged checkpoints --resume passed over
        if resume and latest is not None:
            latest, self.skipped_checkpoints = ckpt.newest_intact_checkpoint(self.out)
            if latest is None:
                reasons = "; ".join(f"{p.name}: {why}" for p, why in self.skipped_checkpoints)
                raise ValueError(f"--resume: every checkpoint in {self.out / ckpt.CHECKPOINTS} is damaged ({reasons})")
            for folder, why in self.skipped_checkpoints:
                if self.dist.main:
                    print(f"resume: skipping the damaged checkpoint {folder.name} ({why}); resuming from "
                          f"{latest.name}", file=sys.stderr, flush=True)  # fmt: skip
        if resume and latest is None:
            raise FileNotFoundError(f"--resume: no checkpoint to resume from in {self.out / ckpt.CHECKPOINTS}")
        if not resume and (latest is not None or (self.out / "config.json").exists()):
            raise ValueError(
                f"{self.out} already holds a training run; pass --resume to continue it or choose a new --out"
            )
        if cfg.init and latest is None and not (Path(cfg.init) / "config.json").is_file():
            raise FileNotFoundError(f"init={cfg.init}: not a checkpoint directory (expected {Path(cfg.init) / 'config.json'})")
        if cfg.vision_pretrain_steps:
            from ..model.attributes import load_vocab

            load_vocab(cfg.vision_pretrain_vocab, "vision_pretrain_vocab")  # a bad word-group file fails before any data or model is built
        train_records = _split_records(cfg, cfg.train_split, required=True)
        self.mixture = TaskMixture(train_records, cfg.mixture, cfg.default_weight, cfg.seed)
        self.train_records = train_records
        self.domain = training_domain(cfg, train_records, self.mixture)  # written beside every saved model
        self.val_records = _split_records(cfg, cfg.val_split, required=False) or []
        self.start_step = 0
        self.init_report = None
        torch.manual_seed(cfg.seed)
        if latest is not None:
            from ..model import load_pretrained

            self.model, self.processor = load_pretrained(latest, merge_lora=False)  # LoRA adapters stay apart
            self.start_step = ckpt.read_trainer_state(latest)["step"]
        elif cfg.init:
            from ..model import load_for_finetuning

            self.model, self.processor, self.init_report = load_for_finetuning(cfg.init, cfg.model_overrides)
        else:
            from ..model import create_model, make_config

            texts = (t for r in train_records for t in (r.prompt, r.answer))
            config = make_config(cfg.preset, cfg.model_overrides)
            self.model, self.processor = create_model(config, texts, cfg.tokenizer_vocab)
        self.model.to(self.device)
        distributed.check_same(distributed.tokenizer_digest(self.processor.tokenizer), "the tokenizer", self.dist)
        distributed.broadcast_model(self.model, self.dist)
        self.param_counts = apply_stage(self.model, cfg.stage)
        if cfg.lora_r or has_lora(self.model):  # adapters train, the parts they adapt freeze (train/lora.py)
            self.param_counts = apply_lora(self.model, cfg, self.dist)
        if cfg.activation_checkpointing:
            sharded.enable_activation_checkpointing(self.model)
        self.sharded = cfg.parallel == "fsdp" and self.dist.active  # FSDP2 (train/sharded.py)
        self.unsharded = sharded.shard_model(self.model, cfg.bf16) if self.sharded else []
        self.compiled: list[str] = []  # the names of the compiled parts (compile=true)
        if cfg.compile:
            from .compile import check_compiler, compile_model

            check_compiler(self.device)
            self.compiled = compile_model(self.model)
        self.optimizer = build_optimizer(self.model, cfg.lr, cfg.weight_decay, cfg.betas, cfg.optimizer)
        self.scheduler = build_scheduler(self.optimizer, cfg.steps, cfg.warmup, cfg.min_lr_ratio, cfg.schedule)
        if latest is not None:
            if (latest / sharded.SHARDED_DIR).is_dir():  # written by parallel=fsdp (DCP reshards to this run)
                sharded.restore(latest, self.model, self.optimizer, self.scheduler)
            elif self.sharded:
                raise ValueError(f"{latest} was written by parallel=ddp; resume it with parallel=ddp")
            else:
                ckpt.restore_training_state(latest, self.optimizer, self.scheduler, self.model)
        self.latest = latest
        self._val_batches = self._fixed_val_batches()
        distributed.barrier(self.dist)  # every process has checked the output folder before rank 0 writes to it

    # --- pieces ---------------------------------------------------------------------------------------------
    def _cost(self, record: Record) -> float:
        """A record's rough share of a step's work, to balance data-parallel processes: its images' tokens and
        the words and grammar tokens of its prompt and answer."""
        text = record.prompt + " " + record.answer
        return self.model.config.tokens_per_image * len(record.images) + len(text.split()) + text.count("<")

    def _fixed_val_batches(self) -> list[list[Record]]:
        """The same validation batches at every evaluation: a task-balanced draw with a fixed seed."""
        if not self.val_records:
            return []
        mix = TaskMixture(self.val_records, seed=12345)
        return [mix.batch(k, self.cfg.batch_size) for k in range(self.cfg.val_batches)]

    def _autocast(self) -> contextlib.AbstractContextManager:
        if not self.cfg.bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def output_of(self, records: list[Record]) -> VistaOutput:
        """The model's output on the records with their answers (``loss`` carries its graph)."""
        batch = self.processor.from_records(records, truncation=True).to(self.device)
        with self._autocast():
            return self.model(**batch, return_logits=False)

    def loss_of(self, records: list[Record]) -> torch.Tensor:
        """Mean token cross-entropy of the records' answers (+ the weighted grounding loss of a grounding
        model; a scalar with its graph)."""
        return self.output_of(records).loss

    @torch.no_grad()
    def validate(self, step: int, log: RunLog) -> float | None:
        """Validation loss on the fixed batches, then quick task metrics on ``val_records`` records per task."""
        if not self._val_batches:
            return None
        if self.compiled:  # evaluation and generation run eagerly: their shapes and cache would only recompile
            from .compile import eager

            with eager():
                return self._validate(step, log)
        return self._validate(step, log)

    def _validate(self, step: int, log: RunLog) -> float | None:
        self.model.eval()
        outputs = [self.output_of(b) for b in self._val_batches]
        val_loss = sum(float(o.loss) for o in outputs) / len(outputs)
        extra = {}
        for name in AUX_LOSSES:
            values = [float(getattr(o, name)) for o in outputs if getattr(o, name) is not None]
            if values:
                extra[name] = sum(values) / len(values)
        log.write("val", step, loss=val_loss, **extra)
        if self.cfg.val_records > 0 and not self.sharded:  # generation runs unsharded models only
            from ..evaluation.runner import evaluate_records, iter_tasks
            from ..model import Engine

            by_task: dict[str, list[Record]] = {}
            for r in self.val_records:
                pool = by_task.setdefault(r.task, [])
                if len(pool) < self.cfg.val_records:
                    pool.append(r)
            engine = Engine(self.model, self.processor, self.device)
            with self._autocast():
                report = evaluate_records(engine, dict(sorted(by_task.items())), self.cfg.batch_size,
                                          max_new_tokens=self.cfg.max_new_tokens)  # fmt: skip
            for task, metric, value in iter_tasks(report):
                log.write("metric", step, task=task, metric=metric, value=None if math.isnan(value) else value)
        self.model.train()
        return val_loss

    def save(self, step: int, extra: dict[str, Any]) -> Path:
        state = {"train_config": self.cfg.to_dict(), **extra}
        if self.sharded:  # every process writes its shard
            return sharded.save_checkpoint(self.out, step, self.model, self.processor, self.optimizer,
                                           self.scheduler, state, self.cfg.keep_checkpoints, self.dist)  # fmt: skip
        folder = ckpt.save_checkpoint(self.out, step, self.model, self.processor, self.optimizer, self.scheduler,
                                      state, self.cfg.keep_checkpoints)  # fmt: skip
        write_domain(folder, self.domain)
        return folder

    def pretrain_vision(self, log: RunLog) -> dict[str, float]:
        """The vision pre-training stage (:mod:`.vision_pretrain`) on this run's records, logged to ``log``."""
        from .vision_pretrain import pretrain_vision

        cfg = self.cfg
        return pretrain_vision(
            self.model, self.processor, self.train_records, self.val_records, steps=cfg.vision_pretrain_steps,
            batch_size=cfg.vision_pretrain_batch, max_records=cfg.vision_pretrain_records,
            vocab=cfg.vision_pretrain_vocab, lr=cfg.lr, weight_decay=cfg.weight_decay, seed=cfg.seed,
            autocast=self._autocast, log=log.write, log_every=cfg.log_every,
            echo=print if (self.echo or self.progress) else None,
        )

    # --- the loop -------------------------------------------------------------------------------------------
    def run(self, stop_at: int | None = None) -> TrainResult:
        """Train from the start (or resumed) step to ``cfg.steps``. ``stop_at``: stop after that step as if
        interrupted (no final export), e.g. to split a run over time-limited jobs."""
        cfg = self.cfg
        main = self.dist.main
        train_dir = self.out / TRAIN_DIR
        resumed = self.latest is not None
        if main:
            train_dir.mkdir(parents=True, exist_ok=True)
            cfg.save(train_dir / "train_config.json")
            log = RunLog(train_dir, cfg.tensorboard, resume_step=self.start_step if resumed else None)
        else:
            log = _NoLog()
        if cfg.vision_pretrain_steps and not resumed:
            try:
                if main:  # one process pre-trains the tower; the others take its weights
                    self.pretrain_vision(log)
                distributed.barrier(self.dist)
                distributed.broadcast_model(self.model, self.dist)
            except BaseException:
                log.close()
                raise
        params = [p for p in self.model.parameters() if p.requires_grad]
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=cfg.steps, initial=self.start_step, unit="step", desc="train", dynamic_ncols=True)
        self.model.train()
        step, last_loss, val_loss = self.start_step, math.nan, None
        window_loss, window_steps, window_samples, t0 = 0.0, 0, 0, time.perf_counter()
        window_aux: dict[str, list[float]] = {name: [] for name in AUX_LOSSES}
        try:
            while step < cfg.steps:
                fp = ""
                step_loss = 0.0
                step_aux: dict[str, list[float]] = {name: [] for name in AUX_LOSSES}
                for micro in range(cfg.grad_accum):
                    records = self.mixture.batch(step, cfg.batch_size, micro)
                    if micro == 0:
                        fp = fingerprint(records)
                    out = self.output_of(distributed.share(records, self.dist, self._cost))
                    loss = out.loss
                    for name in AUX_LOSSES:
                        if getattr(out, name) is not None:
                            step_aux[name].append(float(getattr(out, name).detach()))
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"step {step + 1}: the loss is {float(loss)} (batch {fp}); "
                                                 f"lower lr or check the data")  # fmt: skip
                    (loss / cfg.grad_accum).backward()
                    step_loss += float(loss.detach()) / cfg.grad_accum
                aux = {name: sum(v) / len(v) for name, v in step_aux.items() if v}
                if self.dist.active:  # average the gradients (and the logged losses) over the processes
                    names = list(AUX_LOSSES)
                    scalars = [step_loss, *distributed.average_present(aux, names)]
                    got = sharded.average(self.unsharded, scalars, self.dist) if self.sharded \
                        else distributed.average_gradients(params, self.dist, scalars)  # FSDP averaged the gradients  # fmt: skip
                    step_loss, aux = got[0], distributed.mean_of_present(got[1:], names)
                for name, v in aux.items():
                    window_aux[name].append(v)
                clip = sharded.clip_grad_norm if self.sharded else torch.nn.utils.clip_grad_norm_
                norm = clip(params, cfg.max_grad_norm if cfg.max_grad_norm > 0 else math.inf)
                lr = self.optimizer.param_groups[0]["lr"]  # the rate this step used
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                step += 1
                window_loss += step_loss
                window_steps += 1
                window_samples += cfg.batch_size * cfg.grad_accum
                if cfg.log_every and (step % cfg.log_every == 0 or step == cfg.steps):
                    dt = max(time.perf_counter() - t0, 1e-9)
                    last_loss = window_loss / window_steps
                    extra = {name: sum(v) / len(v) for name, v in window_aux.items() if v}
                    window_aux = {name: [] for name in AUX_LOSSES}
                    log.write("train", step, loss=last_loss, lr=lr, grad_norm=float(norm),
                              samples_per_s=window_samples / dt, fingerprint=fp, **extra)  # fmt: skip
                    if bar is not None:
                        bar.set_postfix(loss=f"{last_loss:.4f}", samples_s=f"{window_samples / dt:.1f}")
                    elif self.echo:
                        print(f"step {step}/{cfg.steps}: loss {last_loss:.4f}, lr {lr:.3g}, "
                              f"{window_samples / dt:.1f} samples/s", flush=True)  # fmt: skip
                    window_loss, window_steps, window_samples, t0 = 0.0, 0, 0, time.perf_counter()
                if bar is not None:
                    bar.update(1)
                if cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps) and (main or self.sharded):
                    val_loss = self.validate(step, log)
                    if val_loss is not None and (bar is not None or self.echo):
                        (bar.write if bar is not None else print)(f"step {step}: val loss {val_loss:.4f}")
                    t0 = time.perf_counter()  # validation time is not training throughput
                if cfg.save_every and (step % cfg.save_every == 0 or step == cfg.steps):
                    if self.sharded:
                        self.save(step, {"loss": last_loss, "val_loss": val_loss})
                    else:
                        distributed.check_in_sync(self.model, self.dist, step)
                    if main and not self.sharded:
                        self.save(step, {"loss": last_loss, "val_loss": val_loss})
                    t0 = time.perf_counter()
                if stop_at is not None and step >= stop_at and step < cfg.steps:
                    distributed.barrier(self.dist)  # the checkpoint rank 0 writes exists when every process returns
                    return TrainResult(self.out, step, last_loss, val_loss, finished=False)
            if self.sharded:
                sharded.export_model(self.model, self.processor, self.out, self.dist)
            if main:
                if not self.sharded:
                    ckpt.export_model(self.model, self.processor, self.out)
                write_domain(self.out, self.domain)
                plot_curves(log.path, train_dir / "curves.png")
            distributed.barrier(self.dist)
            return TrainResult(self.out, step, last_loss, val_loss, finished=True)
        finally:
            log.close()
            if bar is not None:
                bar.close()


class _NoLog:
    """The run log of a data-parallel process other than rank 0: writes nothing."""

    path = None

    def write(self, kind: str, step: int, **values: Any) -> dict[str, Any]:
        return {"kind": kind, "step": int(step), **values}

    def close(self) -> None:
        pass


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True, stop_at: int | None = None) -> TrainResult:
    """Build a :class:`Trainer` for ``cfg`` and run it (see the module docstring for the output layout)."""
    return Trainer(cfg, resume, progress).run(stop_at)


def describe(trainer: Trainer) -> list[str]:
    """A few lines about the run: data, mixture, parameters, device."""
    cfg = trainer.cfg
    mix = ", ".join(f"{t} {n} ({w:.2f})" for (t, n), w in zip(trainer.mixture.sizes().items(),
                                                             trainer.mixture.weights().values()))  # fmt: skip
    counts = trainer.param_counts
    lora = f", {counts['lora']:,} of them LoRA adapters" if "lora" in counts else ""
    lines = [
        f"data {cfg.data}: {len(trainer.mixture)} train records, {len(trainer.val_records)} val records",
        f"mixture (records, weight): {mix}",
        f"model {trainer.model.config.preset}: {counts['trainable']:,} trainable / {counts['frozen']:,} frozen "
        f"parameters (stage {cfg.stage}{lora}) on {trainer.device}{', bf16 autocast' if cfg.bf16 else ''}"
        + (f", compiled: {', '.join(trainer.compiled)}" if cfg.compile else ""),
        f"{cfg.steps} steps × {cfg.batch_size} × {cfg.grad_accum} samples, lr {cfg.lr:g} → {cfg.out}"
        + (f" (resuming at step {trainer.start_step})" if trainer.latest is not None else ""),
    ]
    for folder, _ in trainer.skipped_checkpoints:
        lines.append(f"skipped the damaged checkpoint {folder.name}; resumed from {trainer.latest.name}")
    if trainer.dist.active:
        lines.append(f"data-parallel: {trainer.dist.world} processes, {cfg.batch_size // trainer.dist.world} samples "
                     f"of each batch per process, {torch.get_num_threads()} torch thread(s) each"
                     + (", sharded (fsdp)" if trainer.sharded else ""))  # fmt: skip
    if trainer.init_report is not None:
        lines.insert(2, f"initialised from {cfg.init}: {trainer.init_report.summary()}")
    return lines
