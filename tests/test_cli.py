"""The gankit command: train / sample / info / presets, and one-line errors for bad input."""
import json
import subprocess
import sys

import pytest

from gankit.cli import main
from gankit.config import list_presets, read_config_file

TINY = ["--image-size", "8", "--z-dim", "8", "--g-width", "8", "--d-width", "8", "--batch-size", "16",
        "--no-progress", "--no-tensorboard", "--device", "cpu", "--log-every", "1"]


def test_train_sample_info_round_trip(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--model", "cgan", "--steps", "3", "--out", str(run), *TINY]) == 0
    out = capsys.readouterr().out
    assert f"samples: {run / 'samples.png'}" in out and f"report:  {run / 'report.md'}" in out
    assert main(["sample", str(run), "-n", "9", "--label", "4", "--out", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").stat().st_size > 100
    assert main(["info", str(run), "--json"]) == 0
    info = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert info["model"] == "cgan" and info["data_spec"]["num_classes"] == 10
    assert info["last_metrics"]["step"] == 3


def test_config_file_and_flags_compose(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: mlp\nloss: lsgan\nsteps: 2\ng_hidden: [16]\nd_hidden: [16]\n")
    run = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--steps", "3", "--out", str(run), *TINY]) == 0
    saved = json.loads((run / "config.json").read_text())["config"]
    assert (saved["model"], saved["loss"], saved["steps"], saved["g_hidden"]) == ("mlp", "lsgan", 3, [16])


def test_resume_extends_a_run(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--steps", "2", "--out", str(run), *TINY]) == 0
    assert main(["train", "--resume", str(run), "--steps", "4", "--no-progress"]) == 0
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]


@pytest.mark.parametrize("args,message", [
    (["--model", "stylegan"], "unknown model 'stylegan'; choose one of: acgan, cgan, cyclegan, dcgan, mlp, pix2pix"),
    (["--loss", "foo"], "unknown loss 'foo'; choose one of: hinge, lsgan, minimax, nonsaturating, ragan, rpgan, wasserstein, wgan-gp"),
    (["--data", "imagenet"], "unknown dataset 'imagenet'; choose one of:"),
    (["--lr", "-0.1"], "lr must be > 0 (got -0.1)"),
    (["--batch-size", "0"], "batch_size must be >= 1 (got 0)"),
    (["--n-critic", "0"], "n_critic must be >= 1 (got 0)"),
    (["--data", "mnist", "--data-root", "/nonexistent/x", "--no-download"], "MNIST/raw"),
    (["--config", "nosuchpreset"], "config file 'nosuchpreset' not found"),
    (["--model", "cgan", "--data", "ring"], "needs labelled data"),
    (["--model", "dcgan", "--data", "ring"], "use --model mlp for 2-D point data"),
    (["--batch-size", "5000"], "larger than the dataset"),
    (["--config", "BADTYPE"], "lr must be a finite number (got 'fast')"),
    (["--data", "folder", "--data-root", "/nonexistent/imgs"], "image folder /nonexistent/imgs does not exist"),
])
def test_bad_input_one_line_error(args, message, tmp_path, capsys):
    run = tmp_path / "run"
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: fast\n")
    args = [str(bad) if a == "BADTYPE" else a for a in args]
    assert main(["train", "--steps", "1", "--out", str(run), *TINY, *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("gankit: error: ") and message in err[-1], err
    assert not run.exists()  # nothing written for bad input


def test_unknown_config_key(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text('{"modle": "mlp"}')
    assert main(["train", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'modle'" in err and "did you mean 'model'?" in err


def test_presets_parse_and_validate():
    from gankit import TrainConfig

    names = list_presets()
    assert {"dcgan-digits", "dcgan64-mnist", "dcgan-mnist", "mlp-mnist", "cgan-mnist", "acgan-mnist",
            "mlp-ring", "mlp-grid"} <= set(names)
    for n in names:
        TrainConfig.from_dict(read_config_file(n), n)


def test_module_entry_point(tmp_path):
    r = subprocess.run([sys.executable, "-m", "gankit", "train", "--loss", "nope"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("gankit: error: unknown loss")


def test_sample_with_discriminator_rejection(tmp_path, capsys):
    run = tmp_path / "ring"
    assert main(["train", "--model", "mlp", "--data", "ring", "--num-points", "2000", "--steps", "30",
                 "--g-hidden", "32", "--d-hidden", "32", "--dropout", "0", "--out", str(run), *TINY]) == 0
    capsys.readouterr()
    assert main(["sample", str(run), "-n", "50", "--drs", "--drs-calibrate", "20", "--seed", "1",
                 "--out", str(tmp_path / "s.png")]) == 0
    out = capsys.readouterr().out
    accepted = float(out.split("accepted ")[1].split("%")[0])
    assert 0 < accepted <= 100 and (tmp_path / "s.png").stat().st_size > 100
    cgan = tmp_path / "cgan"
    assert main(["train", "--model", "cgan", "--steps", "1", "--out", str(cgan), *TINY]) == 0
    assert main(["sample", str(cgan), "--drs", "--out", str(tmp_path / "c.png")]) == 2
    assert "--drs needs an unconditional run" in capsys.readouterr().err
    assert not (tmp_path / "c.png").exists()
