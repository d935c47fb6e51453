"""bench/peak_share.py: the FLOPs it counts for one DCGAN-64 training iteration equal a count by hand from the
layer shapes (issue 23: 156.3 GFLOP, 143.2 with --reuse-fake), and its matmul peak is a rate."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from conftest import SHARED_MNIST

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import peak_share  # noqa: E402
from bench._speed import preset_config  # noqa: E402
from gankit import Trainer  # noqa: E402


def conv_macs(batch, out_hw, cin, cout, k=4):
    """Multiply-adds of a conv (or of a transposed conv, counted at its input positions as ``out_hw``)."""
    return batch * out_hw * out_hw * cin * cout * k * k


def layer_macs(B: int = 64) -> tuple[list[int], list[int]]:
    """Multiply-adds of DCGAN-64's layers: G's transposed convs (at their input positions) 100->512 on 1x1,
    512->256 on 4x4, 256->128 on 8x8, 128->64 on 16x16, 64->1 on 32x32; D's convs (at their output positions)
    1->64 to 32x32, 64->128 to 16x16, 128->256 to 8x8, 256->512 to 4x4, 512->1 to 1x1."""
    g = [conv_macs(B, 1, 100, 512), conv_macs(B, 4, 512, 256), conv_macs(B, 8, 256, 128), conv_macs(B, 16, 128, 64),
         conv_macs(B, 32, 64, 1)]
    d = [conv_macs(B, 32, 1, 64), conv_macs(B, 16, 64, 128), conv_macs(B, 8, 128, 256), conv_macs(B, 4, 256, 512),
         conv_macs(B, 1, 512, 1)]
    return g, d


def hand_count(reuse: bool) -> float:
    g, d = layer_macs()
    G, D = sum(g), sum(d)
    # D step: G forward (no grad), D forward on real and on fake, D backward for both: weight gradients
    # everywhere, input gradients except into the images (the first layer's)
    d_step = G + 2 * D + 2 * (D + D - d[0])
    # G step: [fresh G forward,] D forward, D backward to its input (no weight gradients: D is frozen),
    # G backward: weight gradients everywhere, input gradients except into z (the first layer's)
    g_step = (0 if reuse else G) + D + D + (G + G - g[0])
    return 2 * (d_step + g_step)


def hand_count_main_py() -> float:
    """pytorch/examples' update: one G forward; D's step as gankit's; G's step on the same fakes, with D's
    weight gradients computed too (main.py does not freeze D)."""
    g, d = layer_macs()
    G, D = sum(g), sum(d)
    return 2 * (G + 2 * D + 2 * (D + D - d[0]) + D + (D + D) + (G + G - g[0]))


@pytest.mark.parametrize("reuse", [False, True])
def test_iteration_flops_equal_the_hand_count(reuse, tmp_path):
    torch.set_num_threads(1)
    cfg = preset_config("dcgan64-mnist", str(SHARED_MNIST), seed=0, steps=10, reuse_fake=reuse)
    trainer = Trainer(cfg, tmp_path / "run")
    try:
        flops = peak_share.iteration_flops(trainer)
    finally:
        trainer.close()
    assert flops == hand_count(reuse)
    assert round(flops / 1e9, 1) == (143.2 if reuse else 156.3)  # the figures issue 23 states


def test_main_py_loop_flops_equal_the_hand_count():
    torch.set_num_threads(1)
    cfg = preset_config("dcgan64-mnist", str(SHARED_MNIST), seed=0, steps=10)
    assert peak_share.iteration_flops(peak_share.Loop(cfg)) == hand_count_main_py()


def test_matmul_peak_is_a_rate():
    fast = peak_share.matmul_peak(torch.float32, n=256, repeats=3)
    assert 0.1 < fast < 1e5  # GFLOP/s: a single CPU thread is neither idle nor a supercomputer


def test_another_preset_gets_gankits_rows_in_a_section_of_its_own(capsys, tmp_path):
    doc = tmp_path / "benchmarks.md"
    assert peak_share.main(["--quick", "--preset", "r3gan-mnist", "--data-root", str(SHARED_MNIST),
                            "--doc", str(doc)]) == 0
    out = capsys.readouterr().out
    rows = [line.split("|")[1].strip() for line in out.splitlines()
            if line.startswith("| ") and "GFLOP" not in line and not line.startswith("| ---")]
    plain = [k + peak_share.PLAIN for k in peak_share.GENERIC[1:]]  # R1 + R2: PyTorch's double backward beside
    assert rows == list(peak_share.GENERIC) + plain  # no main.py row, no --reuse-fake: DCGAN's recipes
    assert "penalty convolutions" in out and "bf16 + channels-last: **" in out
    assert "`r3gan-mnist` (28x28" in out and "item 2" not in out and not doc.exists()  # --quick writes nothing
    assert peak_share.title("r3gan-mnist") != peak_share.title("dcgan64-mnist")
    assert "DCGAN-64 training" in peak_share.title("dcgan64-mnist")  # the section written before --preset


def test_flops_of_undecomposed_ops_are_counted_as_flop_counter_mode_counts_them():
    """Under inference mode the dispatcher sees aten.conv2d and aten.linear whole: they are counted
    through their decompositions, as FlopCounterMode does."""
    from torch.utils.flop_counter import FlopCounterMode

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5))

    class Step:
        def d_step(self):
            with torch.inference_mode():
                net(torch.randn(2, 3, 8, 8))

        def g_step(self):
            pass

    with FlopCounterMode(display=False) as counter:
        Step().d_step()
    expected = 2 * (2 * 6 * 6 * 4 * 3 * 3 * 3 + 2 * 4 * 6 * 6 * 5)  # conv + linear multiply-adds, x2
    assert counter.get_total_flops() == expected == peak_share.iteration_flops(Step())


@pytest.mark.parametrize("groups", [1, 4, 16])
def test_grouped_convolution_gradients_cost_what_their_forward_costs(groups):
    """Input and weight gradients of a grouped convolution are each one forward's FLOPs: 3x the forward
    for a training step (PyTorch's own formula counts the weight gradient ``groups`` times over)."""
    x = torch.randn(4, 16, 8, 8, requires_grad=True)
    w = torch.randn(16, 16 // groups, 3, 3, requires_grad=True)
    forward = 2 * 4 * 8 * 8 * 16 * (16 // groups) * 3 * 3  # multiply-adds x 2, 'same' padding

    class Step:
        def d_step(self):
            torch.nn.functional.conv2d(x, w, padding=1, groups=groups).square().sum().backward()

        def g_step(self):
            pass

    assert peak_share.iteration_flops(Step()) == 3 * forward
