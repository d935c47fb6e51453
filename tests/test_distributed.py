"""torch.distributed data parallelism on CPU (gloo, 2 processes via torchrun).

Tolerance: the 2-process run all-reduces each rank's mean gradient over its half of the global
batch, (g0 + g1) / 2, where one process sums all 32 per-sample terms at once: the same quantity
with floating-point sums in another order. After 20 Adam steps the weights agree to ~1e-7 (the
float32 rounding of that reordering, slightly amplified by Adam's normalisation); we assert
max |difference| <= 1e-5 with weights of order 0.1-1. Models are MLPs without dropout: per-rank
BatchNorm statistics (SyncBatchNorm is CUDA-only) and per-rank dropout masks legitimately differ.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from gankit.training.trainer import native_bf16

# fp32 (--amp none): two processes match one to 1e-5 in fp32; the default auto would pick bf16 on some CPUs
BASE = ["--g-hidden", "32", "--d-hidden", "32", "--z-dim", "8", "--image-size", "8", "--dropout", "0",
        "--batch-size", "32", "--log-every", "5", "--no-progress", "--no-tensorboard", "--device", "cpu",
        "--seed", "3", "--amp", "none"]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _single(args, out):
    r = subprocess.run([sys.executable, "-m", "gankit", "train", *args, "--out", str(out)],
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def _torchrun(args, out, nproc=2, wait=True):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
           "-m", "gankit", "train", *args, "--out", str(out)]
    p = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    if wait:
        out_, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    return p


def _max_diff(a, b, name="generator"):
    wa, wb = load_file(str(a / f"{name}.safetensors")), load_file(str(b / f"{name}.safetensors"))
    assert wa.keys() == wb.keys()
    return max((wa[k].double() - wb[k].double()).abs().max().item() for k in wa)


@pytest.mark.parametrize("extra", [
    ["--model", "mlp", "--loss", "wgan-gp", "--n-critic", "2"],                         # gradient penalty
    ["--model", "acgan", "--backbone", "mlp", "--r1-gamma", "1.0", "--ema-decay", "0.9"],  # R1, labels, aux head
])
def test_two_processes_match_one_process(extra, tmp_path):
    args = [*BASE, "--steps", "20", *extra]
    _single(args, tmp_path / "one")
    _torchrun(args, tmp_path / "two")
    for name in ("generator", "discriminator"):
        assert _max_diff(tmp_path / "one", tmp_path / "two", name) <= 1e-5
    # rank 0 alone wrote the run: one metrics row per log step, one config
    rows = (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 4


def _latest(run):
    try:
        return int((run / "checkpoints" / "latest").read_text().split("-")[1])
    except (OSError, IndexError, ValueError):
        return -1


def _descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in os.listdir(f"/proc/{p}/task"):
            try:
                kids = open(f"/proc/{p}/task/{task}/children").read().split()
            except OSError:
                continue
            out += [int(k) for k in kids]
            todo += [int(k) for k in kids]
    return out


def _state(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


def test_killed_distributed_run_resumes(tmp_path):
    args = [*BASE, "--model", "mlp", "--steps", "200", "--checkpoint-every", "5"]
    _torchrun(args, tmp_path / "ref")
    p = _torchrun(args, tmp_path / "run", wait=False)
    t = time.time()
    while _latest(tmp_path / "run") < 40:
        assert p.poll() is None and time.time() - t < 240, p.communicate()[1][-3000:]
        time.sleep(0.01)
    procs = _descendants(p.pid)  # torchrun's workers may live in sessions of their own
    for pid in [p.pid, *procs]:  # the launcher and both workers die at once
        os.kill(pid, signal.SIGKILL)
    p.wait()
    while any(os.path.exists(f"/proc/{pid}") and _state(pid) != "Z" for pid in procs):
        time.sleep(0.01)
    assert 40 <= _latest(tmp_path / "run") < 200
    shutil.copytree(tmp_path / "run", tmp_path / "run1")
    # resume with the same world size: bit-identical to the unbroken 2-process run
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                        "-m", "gankit", "train", "--resume", str(tmp_path / "run"), "--no-progress"],
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert _max_diff(tmp_path / "ref", tmp_path / "run") == 0.0
    # resume with a different world size (1 process): the state is global, so it continues the same run
    r = subprocess.run([sys.executable, "-m", "gankit", "train", "--resume", str(tmp_path / "run1"), "--no-progress"],
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert _max_diff(tmp_path / "ref", tmp_path / "run1") <= 1e-4


def test_out_is_required_under_torchrun(tmp_path):
    env = {**_env(), "WORLD_SIZE": "2", "RANK": "0"}
    r = subprocess.run([sys.executable, "-m", "gankit", "train", "--steps", "1"], env=env, capture_output=True,
                       text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 2 and "--out is required under torchrun" in r.stderr


@pytest.mark.parametrize("native", [True, False])
def test_amp_auto_is_the_default_bf16_where_the_cpu_has_it_and_the_run_records_the_choice(tmp_path, monkeypatch, native):
    import json

    import gankit
    from conftest import tiny
    from gankit.training.trainer import Trainer, resolve_amp

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    cpu = torch.device("cpu")
    assert resolve_amp("auto", cpu) == ("bf16" if native else "none")
    assert resolve_amp("fp16", cpu) == "fp16" and resolve_amp("none", cpu) == "none"  # only auto is resolved
    # the default is auto; on a CPU CycleGAN stays fp32, and so does 2-D data; r3gan (also as a cgan
    # backbone) trains in bf16 like the other image models
    assert gankit.TrainConfig().amp == "auto"
    assert resolve_amp("auto", cpu, gankit.TrainConfig(model="cyclegan")) == "none"
    for family in (dict(model="r3gan"), dict(model="cgan", backbone="r3gan")):
        assert resolve_amp("auto", cpu, gankit.TrainConfig(**family)) == ("bf16" if native else "none")
    assert resolve_amp("auto", cpu, gankit.TrainConfig(model="cgan"), "image") == ("bf16" if native else "none")
    assert resolve_amp("auto", cpu, gankit.TrainConfig(data="ring", model="mlp"), "points") == "none"
    with monkeypatch.context() as m:  # oneDNN capped below its bf16 instructions emulates bf16: fp32
        m.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
        assert resolve_amp("auto", cpu) == "none"
        m.setenv("ONEDNN_MAX_CPU_ISA", "avx512_core_amx")
        assert resolve_amp("auto", cpu) == ("bf16" if native else "none")
    # on a GPU with bf16, every image model: R3GAN's paper trains in mixed precision
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: native)
    assert resolve_amp("auto", torch.device("cuda"), gankit.TrainConfig(model="r3gan")) == ("bf16" if native else "none")
    trainer = Trainer(tiny(steps=2, image_size=16), tmp_path / "run")  # the default, auto
    assert trainer.autocast_dtype == (torch.bfloat16 if native else None) and trainer.cfg.amp in ("bf16", "none")
    assert trainer.cfg.channels_last == native  # bf16 comes with channels-last
    trainer.train()
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert (recorded["amp"], recorded["channels_last"]) == (("bf16", True) if native else ("none", False))
    # a resume on a machine that decides otherwise keeps what the run trained with
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: not native)
    resumed = Trainer(tiny(amp="auto", steps=3, image_size=16), tmp_path / "run", resume=True)
    assert (resumed.cfg.amp, resumed.cfg.channels_last) == (recorded["amp"], recorded["channels_last"])
    resumed.train()
    assert gankit.load(tmp_path / "run") is not None
    # a run recorded before the keys existed trained in fp32, NCHW: it reads so
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    del meta["config"]["amp"], meta["config"]["channels_last"]
    (tmp_path / "run" / "config.json").write_text(json.dumps(meta))
    from gankit.runs import Run
    old = Run(tmp_path / "run").config()
    assert (old.amp, old.channels_last) == ("none", False)


def test_amp_bf16_and_channels_last_train_on_cpu(tmp_path):
    import gankit
    from conftest import tiny

    result = gankit.train(tiny(amp="bf16", channels_last=True, steps=3, image_size=16), tmp_path / "run")
    assert result["steps"] == 3
    G = gankit.load(tmp_path / "run")
    assert torch.isfinite(G.sample(4, seed=0)).all()


def test_distributed_evaluation_gathers_features(tmp_path):
    """`gankit evaluate` under torchrun: each process samples and extracts its share, features are
    all-gathered in sample order, rank 0 writes eval.json: the same numbers as one process."""
    import json

    run, ev = tmp_path / "run", tmp_path / "ev"
    _single(["--model", "cgan", "--image-size", "8", "--g-width", "8", "--d-width", "8", "--z-dim", "8",
             "--batch-size", "32", "--steps", "5", "--no-progress", "--no-tensorboard"], run)
    r = subprocess.run([sys.executable, "-m", "gankit", "train-evaluator", "--data", "digits", "--image-size", "8",
                        "--epochs", "1", "--width", "4", "--hidden", "16", "--out", str(ev)],
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    args = ["evaluate", str(run), "--evaluator", str(ev), "--num-samples", "301", "--cache-dir", str(tmp_path / "cache"),
            "--metrics", "fid,is,pr,modes"]
    r = subprocess.run([sys.executable, "-m", "gankit", *args], env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    one = json.loads((run / "eval.json").read_text())
    (run / "eval.json").unlink()
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                        "-m", "gankit", *args], env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    two = json.loads((run / "eval.json").read_text())
    assert two["processes"] == 2 and "processes" not in one
    assert one["metrics"].keys() == two["metrics"].keys() and "class_accuracy" in one["metrics"]
    finite = {k: v for k, v in one["metrics"].items() if v is not None}
    assert {"fid", "is", "precision", "recall", "class_accuracy"} <= finite.keys()
    for k, v in one["metrics"].items():  # None marks a non-finite value (e.g. KL to a class never predicted)
        assert (two["metrics"][k] is None) if v is None else two["metrics"][k] == pytest.approx(v, rel=1e-4, abs=1e-6), k


def test_compile_matches_eager(tmp_path):
    """--compile (torch.compile of G and D for the updates) trains the same model as eager mode,
    up to the float reordering of fused kernels."""
    import gankit
    from conftest import tiny

    cfg = tiny(model="mlp", dropout=0.0, steps=3, amp="none")  # fp32: the tolerance is fp32's
    gankit.train(cfg, tmp_path / "eager")
    gankit.train(cfg.replace(compile=True), tmp_path / "compiled")
    assert _max_diff(tmp_path / "eager", tmp_path / "compiled") <= 1e-4


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not native_bf16(torch.device("cpu")),
                    reason="needs a CPU with native bf16 (AVX512-BF16 or AMX) to make the ranks disagree")
def test_auto_precision_is_one_choice_for_all_ranks(tmp_path):
    """--amp auto under torchrun: bf16 only if every rank computes it natively; a rank whose oneDNN is
    capped below bf16 (here by ONEDNN_MAX_CPU_ISA) makes the whole run fp32, as config.json records."""
    import json

    args = ["train", "--model", "dcgan", "--data", "digits", "--image-size", "8", "--g-width", "8", "--d-width", "8",
            "--z-dim", "8", "--batch-size", "16", "--steps", "2", "--no-progress", "--no-tensorboard",
            "--device", "cpu"]
    for name, cap in (("all-native", None), ("one-capped", "AVX2")):
        port, procs = _free_port(), []
        for rank in (0, 1):
            env = {**_env(), "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
                   "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
            if rank == 1 and cap:
                env["ONEDNN_MAX_CPU_ISA"] = cap
            procs.append(subprocess.Popen([sys.executable, "-m", "gankit", *args, "--out", str(tmp_path / name)],
                                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err[-3000:]
        config = json.loads((tmp_path / name / "config.json").read_text())["config"]
        assert (config["amp"], config["channels_last"]) == (("bf16", True) if cap is None else ("none", False)), name


def test_a_process_leaves_the_group_it_joined_before_it_exits(tmp_path):
    """setup_distributed registers the process group's destruction at exit (gloo's threads otherwise can
    abort the process while the interpreter is torn down)."""
    script = ("import atexit, torch, torch.distributed as dist\n"
              "from gankit.distributed import setup_distributed\n"
              "info, _ = setup_distributed(torch.device('cpu'))\n"
              "assert dist.is_initialized() and info.world_size == 2\n"
              "atexit._run_exitfuncs()\n"
              "print('left' if not dist.is_initialized() else 'still in the group')\n")
    port, procs = _free_port(), []
    for rank in (0, 1):
        env = {**_env(), "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
               "MASTER_PORT": str(port)}
        procs.append(subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and out.strip() == "left", err[-2000:]
