"""Data-parallel training: batch shares, the gradient all-reduce, the sync checks, and a 2-process run end to end
(gloo on the CPU, processes started by ``vistakit train --procs``)."""

import json

import pytest
import torch

from vistakit.cli import main
from vistakit.train import distributed
from vistakit.train.distributed import Context


def test_shares_cover_the_batch_once_and_balance_the_cost():
    records = list(range(10))
    cost = {i: float(c) for i, c in enumerate([9, 1, 1, 1, 8, 1, 1, 7, 1, 2])}.get
    for fn in (None, cost):
        shares = [distributed.share(records, Context(r, 2), fn) for r in range(2)]
        assert sorted(shares[0] + shares[1]) == records  # every record once
        assert all(s == sorted(s) for s in shares) and [len(s) for s in shares] == [5, 5]  # batch order, equal counts
    plain = [distributed.share(records, Context(r, 2)) for r in range(2)]
    assert plain == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]
    balanced = [sum(map(cost, distributed.share(records, Context(r, 2), cost))) for r in range(2)]
    assert abs(balanced[0] - balanced[1]) == 4 < abs(sum(map(cost, plain[0])) - sum(map(cost, plain[1]))) == 8
    assert distributed.share(records, Context(2, 3), cost) == distributed.share(records, Context(2, 3), cost)
    assert distributed.share(records, distributed.SINGLE, cost) == records


def test_present_losses_average_over_the_processes_that_had_them():
    names = ["a", "b", "c"]
    rank0 = distributed.average_present({"a": 1.0, "b": 4.0}, names)
    rank1 = distributed.average_present({"a": 3.0}, names)
    averaged = [(x + y) / 2 for x, y in zip(rank0, rank1)]  # what the all-reduce does
    assert distributed.mean_of_present(averaged, names) == {"a": 2.0, "b": 4.0}


def test_environment_is_read_like_torchrun_sets_it(monkeypatch):
    for name in distributed.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    assert distributed.env_context() == distributed.SINGLE
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    ctx = distributed.env_context()
    assert (ctx.rank, ctx.world, ctx.local_rank, ctx.main, ctx.active) == (3, 4, 1, False, True)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ValueError, match="RANK must be in 0..WORLD_SIZE-1"):
        distributed.env_context()
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(ValueError, match="RANK must be an integer"):
        distributed.env_context()
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ValueError, match="MASTER_ADDR is not set"):
        distributed.init(distributed.env_context(), torch.device("cpu"))


def _collectives(out_dir):
    """Run in each of 2 processes: the collectives on rank-dependent values; results written as JSON."""
    ctx = distributed.env_context()
    distributed.init(ctx, torch.device("cpu"))
    torch.manual_seed(ctx.rank)  # different weights on purpose
    model = torch.nn.Linear(3, 2)
    distributed.broadcast_model(model, ctx)  # now rank 0's
    model.weight.grad = torch.full((2, 3), float(ctx.rank + 1))  # 1 on rank 0, 2 on rank 1
    model.bias.grad = None if ctx.rank == 0 else torch.full((2,), 4.0)  # missing on rank 0: counts as zeros
    scalars = distributed.average_gradients([model.weight, model.bias], ctx, [10.0 * ctx.rank])
    result = {"weight": model.weight.detach().tolist(), "wgrad": model.weight.grad.tolist(),
              "bgrad": model.bias.grad.tolist(), "scalars": scalars}  # fmt: skip
    distributed.check_in_sync(model, ctx, step=1)
    for name, check in (("same", lambda: distributed.check_same(f"v{ctx.rank}", "a value", ctx)),
                        ("sync", lambda: _drift(model, ctx))):  # fmt: skip
        try:
            check()
            result[name] = "passed"
        except RuntimeError as exc:
            result[name] = str(exc)
    (out_dir / f"rank{ctx.rank}.json").write_text(json.dumps(result))
    distributed.shutdown(ctx)
    return 0


def _drift(model, ctx):
    with torch.no_grad():
        model.bias.add_(float(ctx.rank))
    distributed.check_in_sync(model, ctx, step=2)


def test_collectives_in_two_processes(tmp_path, monkeypatch):
    for name in distributed.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    assert distributed.launch(_collectives, (tmp_path,), procs=2, threads=1) == 0
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2))
    assert r0["weight"] == r1["weight"]  # broadcast from rank 0
    assert r0["wgrad"] == r1["wgrad"] == [[1.5] * 3] * 2  # (1 + 2) / 2
    assert r0["bgrad"] == r1["bgrad"] == [2.0, 2.0]  # (0 + 4) / 2
    assert r0["scalars"] == r1["scalars"] == [5.0]
    assert "disagree on a value" in r0["same"] and "disagree on a value" in r1["same"]
    assert "parameters differ at step 2" in r0["sync"]


@pytest.mark.timeout(300)
def test_train_with_two_processes_then_resume(sw_data, micro, tmp_path, monkeypatch, capfd):
    for name in distributed.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "run"
    common = ["--no-progress", "batch_size=4", "save_every=2", "eval_every=0", "log_every=1", "tensorboard=false"]
    rc = main(["train", "--procs", "2", "--data", str(sw_data), "--out", str(out), *common, "steps=2",
               "tokenizer_vocab=300", *micro])  # fmt: skip
    text = capfd.readouterr().out
    assert rc == 0, text
    assert "data-parallel: 2 processes, 2 samples of each batch per process" in text
    assert text.count("trained to step 2") == 1  # rank 0 alone prints and writes
    log = [json.loads(line) for line in (out / "train" / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log if e["kind"] == "train"] == [1, 2]
    assert (out / "config.json").is_file() and (out / "checkpoints" / "step-0000002").is_dir()
    rc = main(["train", "--procs", "2", "--out", str(out), "--resume", *common, "steps=3"])
    text = capfd.readouterr().out
    assert rc == 0, text
    assert "resuming at step 2" in text and "trained to step 3" in text


def test_data_parallel_errors_are_one_line(sw_data, tmp_path, monkeypatch, capfd):
    for name in distributed.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    assert main(["train", "--procs", "2", "--data", str(sw_data), "--out", str(tmp_path / "a"), "batch_size=3"]) == 2
    assert "batch_size 3 must be a multiple of --procs 2" in capfd.readouterr().err
    assert main(["train", "--procs", "0", "--data", str(sw_data), "--out", str(tmp_path / "b")]) == 2
    assert "--procs must be >= 1" in capfd.readouterr().err
    # an error inside the processes (no such split): each says it in one line, the command fails
    rc = main(["train", "--procs", "2", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c"),
               "batch_size=2"])  # fmt: skip
    err = capfd.readouterr().err
    assert rc == 2 and "no 'train' split in the data folder" in err and "Traceback" not in err
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", "--procs", "2", "--data", str(sw_data), "--out", str(tmp_path / "d"), "batch_size=2"]) == 2
    assert "already has one" in capfd.readouterr().err
