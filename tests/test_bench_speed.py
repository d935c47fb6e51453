"""The speed benchmarks (bench/throughput.py, bench/time_to_quality.py and their helpers, bench/_speed.py and
bench/reference_loop.py): the reference loop follows pytorch/examples' dcgan algorithm, main.py's output is
parsed, its MNIST root is readable by torchvision, and the quick variants run (a smoke test, not a speed or
quality gate)."""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torchvision

from conftest import SHARED_MNIST, tiny

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _speed, throughput, time_to_quality  # noqa: E402
from bench.reference_loop import ReferenceLoop  # noqa: E402
from gankit.data import DataSpec, load_dataset  # noqa: E402
from gankit.metrics.features import PixelExtractor  # noqa: E402
from gankit.models import build_models  # noqa: E402

# pytorch/examples dcgan/main.py with nc=1, nz=100, ngf=ndf=64: its parameter shapes, in order.
MAIN_PY_G = [(100, 512, 4, 4), (512,), (512,), (512, 256, 4, 4), (256,), (256,), (256, 128, 4, 4), (128,), (128,),
             (128, 64, 4, 4), (64,), (64,), (64, 1, 4, 4)]
MAIN_PY_D = [(64, 1, 4, 4), (128, 64, 4, 4), (128,), (128,), (256, 128, 4, 4), (256,), (256,), (512, 256, 4, 4),
             (512,), (512,), (1, 512, 4, 4)]


def test_dcgan64_preset_has_main_py_networks():
    cfg = _speed.preset_config("dcgan64-mnist", str(SHARED_MNIST))
    G, D = build_models(cfg, DataSpec((1, 64, 64)))
    assert [tuple(p.shape) for p in G.parameters()] == MAIN_PY_G
    assert [tuple(p.shape) for p in D.parameters()] == MAIN_PY_D
    # main.py's state-dict keys (main.0.weight, main.1.running_mean, ...) load into gankit's generator
    keys = list(G.state_dict())
    assert keys[:3] == ["main.0.weight", "main.1.weight", "main.1.bias"] and keys[-1] == "main.12.weight"


def test_reference_loop_is_the_main_py_algorithm():
    cfg = tiny(model="dcgan", batch_size=8)
    data = load_dataset(cfg)
    loop = ReferenceLoop(cfg, data, seed=0)
    calls = {"G": 0, "D": 0}
    loop.G.register_forward_hook(lambda *a: calls.__setitem__("G", calls["G"] + 1))
    loop.netD.register_forward_hook(lambda *a: calls.__setitem__("D", calls["D"] + 1))
    head = loop.netD[0].head.weight
    seen = {}
    loop.optimizerD.register_step_pre_hook(lambda *a: seen.__setitem__("D step", head.grad.clone()))
    loop.optimizerG.register_step_pre_hook(lambda *a: seen.__setitem__("G step", head.grad.clone()))
    d_before = head.detach().clone()
    logs = loop.step(data.x[:8])
    # one G forward (its fake is reused for G's update), three D forwards (real, fake.detach(), fake)
    assert calls == {"G": 1, "D": 3}
    assert loop.iterations == 1 and all(math.isfinite(v) for v in logs.values())
    assert 0 < logs["D_x"] < 1 and 0 < logs["D_G_z1"] < 1 and 0 < logs["D_G_z2"] < 1
    assert not torch.equal(d_before, head.detach())  # D was updated
    # main.py does not freeze D in G's step: BCE(D(fake), 1) adds to D's gradients there too
    assert not torch.allclose(seen["D step"], seen["G step"])
    # the run helper stops when the callback says so, and counts epochs through the DataLoader
    times = loop.run(10**6, callback=lambda lp: lp.iterations >= 4)
    assert len(times) == 3 and loop.iterations == 4 and times == sorted(times)


def test_main_py_log_lines_and_images_per_second():
    line = "[0/1][12/157] Loss_D: 0.1459 Loss_G: 7.5582 D(x): 0.9621 D(G(z)): 0.0874 / 0.0008\n"
    assert throughput.parse_main_line(line) == (12, 157)
    assert throughput.parse_main_line("Random Seed:  1") is None
    result = {"times": [10.0, 11.0, 12.0, 12.5, 13.0], "batch": 64, "start": 0.0}
    assert _speed.images_per_s(result, warmup=2) == 64 * 3 / 2.0  # iterations 3..5 over 12.0 -> 13.0
    assert _speed.images_per_s(result, warmup=1, last=3) == 64 * 2 / 2.0


def test_run_worker_measures_in_a_process_of_its_own():
    spec = {"kind": "gankit", "variant": "default", "preset": "mlp-mnist", "iters": 3, "threads": 1,
            "data_root": str(SHARED_MNIST), "seed": 0}
    r = _speed.run_worker(spec, timeout=300)  # python -m bench._speed SPEC, as throughput's rounds run it
    assert len(r["times"]) == len(r["cpu"]) == 3 and r["batch"] == 64 and r["times"] == sorted(r["times"])
    assert _speed.images_per_s(r, warmup=1) > 0 and _speed.images_per_s(r, warmup=1, clock="cpu") > 0


def test_mnist_root_for_main_serves_the_test_split_as_train(fake_mnist, tmp_path):
    root = throughput.mnist_root_for_main(fake_mnist, tmp_path / "root")
    ds = torchvision.datasets.MNIST(root=str(root), train=True, download=True)  # download=True, as main.py: no fetch
    raw = load_dataset(tiny(data="mnist", data_root=str(fake_mnist), split="test", image_size=None))
    assert len(ds) == 64 and torch.equal(ds.data, raw.x[:, 0])


def test_throughput_quick_runs_gankit_against_the_reference_loop(tmp_path):
    out = throughput.main(["--quick", "--in-process", "--presets", "mlp-mnist", "--iters", "2",
                           "--docs", str(tmp_path / "b.md")])
    rates = out["rates"]["mlp-mnist"]
    assert set(rates) == {"loop", "gankit:default"}
    assert all(len(r) == 1 and r[0] > 0 for r in rates.values())
    assert not (tmp_path / "b.md").exists()  # --quick never writes the docs


def test_probe_pauses_the_clock_and_stops_at_the_threshold():
    real = torch.rand(400, 1, 4, 4) * 2 - 1

    class Slow(torch.nn.Module):  # a "generator" whose samples get closer to the data over steps
        z_dim, num_classes = 1, 0

        def __init__(self):
            super().__init__()
            self.shift = 3.0

        def sample(self, n, seed=None):
            time.sleep(0.05)  # evaluation time must not count as training time
            g = torch.Generator().manual_seed(seed)
            return (torch.rand(n, 1, 4, 4, generator=g) * 2 - 1) + self.shift

    ext = PixelExtractor()
    feats = ext.extract(real)["features"].numpy()
    stats = (feats.mean(0), np.cov(feats, rowvar=False))
    probe = time_to_quality.Probe(ext, stats, threshold=1.0, every=2, n=400, budget_s=60)
    G = Slow()
    stopped_at = None
    for step in range(1, 11):
        G.shift = max(0.0, 3.0 - 0.5 * step)
        if probe(step, {"G": G}):
            stopped_at = step
            break
    assert [c["step"] for c in probe.curve] == [2, 4, 6][: len(probe.curve)]
    assert stopped_at == 6 and probe.reached["G"][0] == 6  # shift 0 at step 6: FID ~ sampling noise
    assert probe.curve[0]["G"] > probe.curve[-1]["G"] and probe.curve[-1]["G"] <= 1.0
    assert probe.paused >= 3 * 0.05 and probe.reached["G"][1] < 0.1  # training time excludes evaluations


def test_time_to_quality_quick_runs_both_sides():
    out = time_to_quality.main(["--quick", "--preset", "mlp-mnist", "--variants", "default", "--budget", "50",
                                "--eval-every", "5", "--n-eval", "200", "--threshold", "1e9"])
    runs = {r["side"]: r for r in out["runs"]}
    assert set(runs) == {"reference", "gankit:default"}
    for r in runs.values():  # a threshold of 1e9 is met at the first evaluation, step 5
        assert list(r["reached"]) == ["G"] and r["reached"]["G"][0] == 5 and 0 < r["reached"]["G"][1] < 50
        assert all(math.isfinite(v) and v > 0 for c in r["curve"] for k, v in c.items() if k not in ("step", "time"))


def test_fused_prototype_game_trains_on_the_new_game_interface(tmp_path):
    """The bench-only ``fused`` prototype (one D pass on real+fake) runs on a game built by the trainer."""
    import gankit
    from bench._speed import prototype_game
    from conftest import tiny

    t = gankit.Trainer(tiny(steps=3), tmp_path / "run")
    t.game = prototype_game("fused", t.game)
    terms, d_real, d_fake = t.game.d_loss(t.data.batch(t.sampler.next(), t.device))
    assert list(terms) == ["adv"] and 0 < float(d_real) < 1 and 0 < float(d_fake) < 1
    assert t.train()["steps"] == 3


def test_scaling_fixed_share_fits_the_per_iteration_line():
    """bench/scaling.py: an iteration costing 40 ms + 2 ms per image has a fixed share of 40 / 72 at
    batch 16 (per-image costs 4.5, 2.625, 2.156 ms at batches 16, 64, 256)."""
    from bench.scaling import fixed_share

    batches = [16, 64, 256]
    per_image = [(40 + 2 * b) / b for b in batches]
    assert abs(fixed_share(batches, per_image) - 40 / 72) < 1e-12
    assert fixed_share(batches, [2.0, 2.0, 2.0]) == 0.0  # time proportional to the batch: nothing fixed


def test_bench_features_compare_lenet_times_both_layouts_of_one_evaluator(tmp_path):
    import argparse

    from bench import bench_features
    from evaluator_helpers import tiny_mnist_evaluator
    from gankit.metrics import save_evaluator

    save_evaluator(tiny_mnist_evaluator()[0], tmp_path / "ev")
    args = argparse.Namespace(evaluator=str(tmp_path / "ev"), lenet_images=600, rounds=2, threads=1, write=False)
    text = bench_features.compare_lenet(args)
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in text.splitlines() if ln.startswith("| ")][2:]
    assert [r[0] for r in rows] == ["NCHW (the evaluator as trained)", "channels-last (LeNetExtractor, default)"]
    assert rows[0][2].startswith("**1.00**") and float(rows[0][3]) == 0.0
    assert float(rows[1][1]) > 0 and float(rows[1][3]) < 2e-6  # same features, other layout
    assert "600 digits of the MNIST **test** split" in text
