"""What a newcomer meets in the first hour (issue 18): thread count, progress off a terminal, a --help
that documents every flag, presets that name datasets, flags on top of good settings, small things."""
from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import sys
from pathlib import Path

import pytest
import torch
import yaml

from gankit import TrainConfig
from gankit.cli import build_parser, main
from gankit.config import PRESET_DIR, SECTIONS, field_choices, list_presets
from gankit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--image-size", "8", "--z-dim", "8", "--g-width", "8", "--d-width", "8", "--batch-size", "16",
        "--no-tensorboard", "--device", "cpu", "--threads", "1"]


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def saved_config(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())["config"]


# ------------------------------------------------------------------ item 2: threads
def test_auto_threads_leave_the_loaded_cores_alone(monkeypatch):
    from gankit.utils.threads import auto_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert auto_threads(cores=2, load=0.1) == 2
    assert auto_threads(cores=2, load=6.0) == 1          # the busy 2-core machine of the issue: never 2
    assert auto_threads(cores=8, load=2.4) == 6
    assert auto_threads(cores=8, load=0.0, processes=2) == 4  # torchrun: cores shared by the node's processes
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert auto_threads(cores=8, load=7.0) == 3          # an explicit environment wins


def test_threads_flag_is_applied_and_recorded(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    run = tmp_path / "auto"
    assert main(["train", "--steps", "2", "--out", str(run), "--no-progress", *TINY[:-2]]) == 0  # no --threads
    assert saved_config(run)["threads"] == 2 and "(2 CPU threads, " in capsys.readouterr().err
    assert "- **threads**: 2" in (run / "report.md").read_text()
    run = tmp_path / "one"
    assert main(["train", "--steps", "2", "--out", str(run), "--no-progress", *TINY]) == 0
    assert saved_config(run)["threads"] == 1 and torch.get_num_threads() == 1
    with pytest.raises(ConfigError, match="threads must be >= 0"):
        TrainConfig(threads=-1).validate()


# ------------------------------------------------------------------ item 3: progress off a terminal
def test_progress_off_a_terminal_is_one_line_every_log_every_steps(tmp_path, capsys):
    assert main(["train", "--steps", "10", "--log-every", "4", "--out", str(tmp_path / "r"), *TINY]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if " step " in line and "/10 " in line]
    assert [re.search(r"step (\d+)/10", line).group(1) for line in lines] == ["4", "8", "10"]
    for line in lines:
        assert re.search(r"d_loss \d+\.\d{3} g_loss \d+\.\d{3}", line), line
        assert re.search(r"\| \d+ images/s \| ETA \d+m\d\ds$", line), line
    assert "\r" not in err and "it/s" not in err and "step/s" not in err  # no tqdm updates
    assert main(["train", "--steps", "10", "--log-every", "4", "--out", str(tmp_path / "q"), "--no-progress",
                 *TINY]) == 0
    assert " step 4/10" not in capsys.readouterr().err  # --no-progress: neither bar nor lines


def test_progress_on_a_terminal_is_the_bar():
    from gankit.training.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stream, bar in ((Terminal(), True), (io.StringIO(), False)):
        p = Progress(4, 0, enabled=True, desc="x", images_per_step=16, stream=stream)
        for step in range(1, 5):
            p.update()
            p.log(step, {"d_loss": 1.0})
        p.close()
        text = stream.getvalue()
        assert ("4/4" in text and "\r" in text) == bar
        assert text.count("x step ") == (0 if bar else 4)


# ------------------------------------------------------------------ item 4: --help
def train_help(monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "10000")  # one line per flag
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sub.choices["train"].format_help()


def test_train_help_documents_every_flag_with_default_and_choices(monkeypatch):
    lines, flag = {}, None
    for line in train_help(monkeypatch).splitlines():  # a flag's entry, joined with its help line
        if line.startswith("  --"):
            flag = line.split()[0].rstrip(",")
            lines[flag] = line
        elif flag and line.startswith("      "):
            lines[flag] += " " + line.strip()
        else:
            flag = None
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        m = re.fullmatch(rf"  {flag}(?:, --no-[\w-]+| N \[N \.\.\.\]| {f.name.upper()})? +(.+) \(default: ([^)]+)\)",
                         lines[flag])
        assert m and len(m.group(1)) > 10 and m.group(1).startswith(f.metadata["help"][:20]), lines[flag]
        choices = field_choices(f.name)
        if choices:
            assert m.group(1).endswith(f"; choices: {', '.join(choices)}"), flag
    assert lines["--loss"].endswith("choices: hinge, lsgan, minimax, nonsaturating, ragan, rpgan, wasserstein, "
                                    "wgan-gp (default: nonsaturating)")
    assert lines["--ema-decay"].endswith("EMA of G's weights, sampled from (0: off), e.g. 0.999 "
                                         "(default: 0.0; dcgan-digits: 0.999)")


def test_train_help_is_grouped_by_section_in_order(monkeypatch):
    text = train_help(monkeypatch)
    heads = [text.index(f"\n{s} (config keys):\n") for s in SECTIONS]
    assert heads == sorted(heads) and set(SECTIONS) >= {"data", "model", "objective", "regularisers",
                                                       "optimisation", "scale-out"}
    section = text[heads[SECTIONS.index("regularisers")]:heads[SECTIONS.index("optimisation")]]
    assert all(flag in section for flag in ("--r1-gamma", "--gp-weight", "--spectral-norm"))
    assert "--lr " not in section


def test_validation_checks_the_choices_the_help_shows():
    for name in ("optimizer", "g_norm", "amp", "lr_decay", "on_divergence", "split"):
        with pytest.raises(ConfigError) as e:
            TrainConfig(**{name: "nonsense"}).validate()
        assert str(e.value).endswith("choose one of: " + ", ".join(field_choices(name)))
    with pytest.raises(ConfigError, match="choose one of: " + ", ".join(field_choices("model"))):
        TrainConfig(model="stylegan").validate()


# ------------------------------------------------------------------ item 6: presets name datasets
def test_presets_name_the_dataset_not_a_path_or_split():
    for name in list_presets():
        raw = yaml.safe_load((PRESET_DIR / f"{name}.yaml").read_text())
        assert "data" in raw and "data_root" not in raw and "split" not in raw, name
        assert "shared/data" not in (PRESET_DIR / f"{name}.yaml").read_text(), name


def test_data_root_order_flag_env_then_user_cache(tmp_path, monkeypatch):
    from gankit.data.vision import data_root

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    assert data_root(TrainConfig(data="mnist")) == tmp_path / "home" / ".cache" / "gankit" / "data"
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "env"))
    assert data_root(TrainConfig(data="mnist")) == tmp_path / "env"
    assert data_root(TrainConfig(data="mnist", data_root=str(tmp_path / "flag"))) == tmp_path / "flag"


def test_gankit_data_is_read(fake_mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_DATA", str(fake_mnist))
    run = tmp_path / "r"
    assert main(["train", "--data", "mnist", "--split", "test", "--no-download", "--steps", "2", "--out", str(run),
                 "--no-progress", *TINY]) == 0
    assert saved_config(run)["data_root"] is None and (run / "samples.png").exists()


# ------------------------------------------------------------------ item 7: flags over good settings
def test_a_flag_keeps_the_recommended_preset(tmp_path):
    run = tmp_path / "r"
    assert main(["train", "--data", "digits", "--steps", "2", "--out", str(run), "--no-progress", *TINY]) == 0
    cfg = saved_config(run)
    assert (cfg["ema_decay"], cfg["epochs"], cfg["sample_every"], cfg["steps"]) == (0.999, 60, 168, 2)


def test_recommended_settings_by_data_and_model():
    assert TrainConfig.recommended() == TrainConfig.from_preset("dcgan-digits")
    assert TrainConfig.recommended(data="digits", loss="hinge") == TrainConfig.from_preset("dcgan-digits", loss="hinge")
    assert TrainConfig.recommended(model="cgan", data="mnist") == TrainConfig.from_preset("cgan-mnist")
    ring = TrainConfig.recommended(data="ring")
    assert (ring.model, ring.z_dim, ring.steps) == ("mlp", 2, 10000)
    other = TrainConfig.recommended(data="cifar10")  # no preset: the default's settings, not its data's
    assert (other.ema_decay, other.image_size, other.epochs) == (0.999, None, None)
    assert TrainConfig().ema_decay == 0.0  # the plain field defaults stay what they are (documented)


def test_presets_command_prints_one_line_descriptions(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list_presets()
    for line in lines:
        assert len(line.split(None, 1)[1]) > 20, line
    assert any(re.match(r"dcgan-digits\s+The default job", line) for line in lines)
    TrainConfig.from_preset("dcgan-digits")  # description: is no config key


# ------------------------------------------------------------------ item 11: small things
def test_version_typed_marker_license():
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    import gankit

    assert (Path(gankit.__file__).parent / "py.typed").exists()
    assert '"py.typed"' in (ROOT / "pyproject.toml").read_text()
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text()
    assert "no learning-rate schedulers yet" not in (ROOT / "docs" / "reliability.md").read_text()


def test_tensorboard_absence_names_the_extra(tmp_path, monkeypatch, caplog):
    from gankit.training.logger import RunLogger

    assert 'tensorboard = ["tensorboard' in (ROOT / "pyproject.toml").read_text()
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    with caplog.at_level(logging.INFO):
        logger = RunLogger(tmp_path, tensorboard=True)
    assert logger.tb is None and "pip install 'gankit[tensorboard]'" in caplog.text


def test_resume_reports_total_steps_and_the_session_rate(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", "--steps", "4", "--out", str(run), "--no-progress", *TINY]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--steps", "10", "--no-progress"]) == 0
    done = capsys.readouterr().out.splitlines()[0]
    assert re.fullmatch(r"done: 10 steps in total \([\d.]+s\); this session: 6 steps in [\d.]+s \(\d+ images/s\)",
                        done), done
