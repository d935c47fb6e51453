"""bench/gpu_throughput.py on the CPU (CI has no GPU): FLOP count, timing and peak lookup."""
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import gpu_throughput  # noqa: E402
from conftest import SHARED_MNIST  # noqa: E402


def test_flops_per_iteration_match_the_mlp_by_hand():
    """One D step and one G step of the MLP GAN: every matmul of Algorithm 1, counted by hand.
    D step: G forward (no grad), D forward on real and fake, their backward (weight grads everywhere,
    input grads but for the data's layer); G step: G and D forward, D backward for the input only
    (D frozen), G backward (no grad for z): 4·F_G - F_G1 + 8·F_D - 2·F_D1."""
    cfg = gpu_throughput.config("mlp-mnist", "cpu", SHARED_MNIST)
    B = cfg.batch_size

    def linear(dims):
        return [2 * B * a * b for a, b in zip(dims, dims[1:])]

    fg, fd = linear([cfg.z_dim, *cfg.g_hidden, 28 * 28]), linear([28 * 28, *cfg.d_hidden, 1])
    expected = 4 * sum(fg) - fg[0] + 8 * sum(fd) - 2 * fd[0]
    assert gpu_throughput.flops_per_iteration("mlp-mnist", "cpu", SHARED_MNIST) == expected
    # --data digits (where the MNIST files are absent): resized to the preset's size, the same arithmetic
    assert gpu_throughput.flops_per_iteration("mlp-mnist", "cpu", SHARED_MNIST, data="digits") == expected


def test_measure_times_the_steps_after_warmup():
    r = gpu_throughput.measure("mlp-mnist", "bf16", "cpu", SHARED_MNIST, iters=6, warmup=2)
    assert r["iters"] == 4 and r["batch"] == 64
    assert math.isfinite(r["images_per_s"]) and r["images_per_s"] > 0
    assert 0 < r["median_iter_ms"] < 1e4


def test_peak_table_and_refusals(capsys):
    assert gpu_throughput.peak_tflops("NVIDIA H100 80GB HBM3", "bf16") == 989.4
    assert gpu_throughput.peak_tflops("NVIDIA H100 PCIe", "tf32") == 378.0
    assert gpu_throughput.peak_tflops("NVIDIA H200", "fp32") == 67.0
    assert gpu_throughput.peak_tflops("CPU", "bf16") is None
    import torch
    if not torch.cuda.is_available():
        assert gpu_throughput.main(["--quick"]) == 2
        assert "no CUDA device here" in capsys.readouterr().err


def test_quick_variant_runs_on_the_cpu(capsys):
    assert gpu_throughput.main(["--quick", "--device", "cpu", "--data-root", str(SHARED_MNIST)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("mlp-mnist")]
    assert [line.split()[1] for line in lines] == ["fp32", "bf16"] and all("TFLOP/s" in line for line in lines)
