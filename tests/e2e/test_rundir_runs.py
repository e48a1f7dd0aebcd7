"""The run directory read back by the tools: load_model on a run's latest checkpoint, `last` for the newest run."""

import shutil

from tinyx.rundir.checkpoints import CKPT_DIR
from tinyx.tools.run_model import load_model


def test_load_model_rebuilds_the_run_latest_checkpoint(trained_run):
    run_dir, _ = trained_run
    run = load_model(run_dir)
    assert run.step == 40 and run.checkpoint.name == "ckpt_000040.pt" and not run.model.training
    assert run.tokenizer.decode(run.tokenizer.encode("ROMEO:")) == "ROMEO:"


def test_tools_take_last_for_the_newest_run(trained_run, tmp_path, monkeypatch, capsys):
    from tinyx import compare
    from tinyx.tools import evaluate, generate

    monkeypatch.setenv("TINYX_OUTPUTS", str(tmp_path))
    newest = tmp_path / "runs" / "2026-01-03" / "10-00-00"
    shutil.copytree(trained_run[0], newest)
    shutil.copytree(trained_run[0], tmp_path / "runs" / "2026-01-03" / "09-00-00")
    assert load_model("last").checkpoint == newest / CKPT_DIR / "ckpt_000040.pt"
    generate.main(["last", "--max-new-tokens", "5"])
    scores = evaluate.main(["last", "--eval-batches", "1"])
    assert [s.checkpoint for s in scores] == [(newest / CKPT_DIR / "ckpt_000040.pt").resolve()]
    comparison = compare.main(["last"])
    assert [r.path for a in comparison.arms for r in a.runs] == [newest.resolve()]
    assert (newest / "comparison.md").is_file()
