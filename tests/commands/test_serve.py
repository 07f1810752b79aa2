"""``vistakit serve`` through the CLI table: its flags reach the app and uvicorn; bad flags fail cleanly."""

import uvicorn
from fastapi.testclient import TestClient

from vistakit.cli import main


def test_serve_builds_the_app_from_its_flags(micro_ckpt, tmp_path, monkeypatch):
    seen = {}
    def fake_run(server):  # no real server here: record what it was configured with
        cfg = server.config
        seen.update(app=cfg.app, host=cfg.host, port=cfg.port, log_level=cfg.log_level)

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    rc = main(["serve", "--checkpoint", str(micro_ckpt), "--port", "8123", "--device", "cpu", "--max-batch-size", "4",
               "--max-wait-ms", "2.5", "--allow-file-dir", str(tmp_path), "--model-name", "mine", "--log-level",
               "warning"])  # fmt: skip
    assert rc == 0 and (seen["host"], seen["port"], seen["log_level"]) == ("127.0.0.1", 8123, "warning")
    settings = seen["app"].state.settings
    assert (settings.max_batch_size, settings.max_wait_ms, settings.allowed_file_dir) == (4, 2.5, tmp_path.resolve())
    with TestClient(seen["app"]) as client:
        health = client.get("/health").json()
    assert health["model"] == "mine" and health["batching"]["max_batch_size"] == 4


def test_serve_refuses_bad_flags(tmp_path, capsys):
    assert main(["serve", "--checkpoint", str(tmp_path / "none")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port must be between 0 and 65535" in capsys.readouterr().err
    assert main(["serve", "--max-batch-size", "0"]) == 2
    assert "max_batch_size must be a positive integer" in capsys.readouterr().err
