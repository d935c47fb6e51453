"""gankit.analysis: the papers' claims checked with numbers, and every `gankit analyze` command.

Tolerances: a D trained on samples is within 0.05 of D* (max abs) on a dense grid wherever
(p_data + p_g)/2 is at least 5% of its maximum; V(G, D*) matches 2 JSD - log 4 to 1e-4.
"""
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

import gankit
from gankit.analysis import latent, memorization, saturation, theory, toy1d
from gankit.analysis.collapse import CollapseRecorder
from gankit.cli import main
from gankit.metrics.lenet import LeNet, save_evaluator

from conftest import tiny

LOG4 = math.log(4)


# ---------------------------------------------------------------------- 1. optimal discriminator
def test_optimal_discriminator_formula():
    p, q = theory.PAIRS["gaussians"]
    x = np.linspace(-3, 5, 101)
    d = theory.optimal_discriminator(p, q, x)
    np.testing.assert_allclose(d, p.pdf(x) / (p.pdf(x) + q.pdf(x)), rtol=1e-12)
    assert d[0] > 0.99 and d[62] < 0.1  # x = -3: only p_data lives; x = 2: p_g's mode dominates
    # p_g = N(2, 0.7²) is narrower, so far right p_data wins again: D* is least at x = 2 / (1 - 0.7²)
    fine = np.linspace(0, 8, 80001)
    assert fine[theory.optimal_discriminator(p, q, fine).argmin()] == pytest.approx(2 / (1 - 0.49), abs=1e-3)
    same = theory.optimal_discriminator(p, p, x)
    np.testing.assert_allclose(same, 0.5)


@pytest.mark.parametrize("pair", ["gaussians", "mixture"])
def test_trained_discriminator_approaches_d_star(pair):
    p, q = theory.PAIRS[pair]
    D, losses = theory.fit_discriminator(p, q, steps=800, batch_size=1024, seed=0)
    err = theory.discriminator_error(p, q, D)           # (p+q)/2 >= 5% of its max
    assert err["grid_points"] > 1000
    assert err["max_abs_error"] < 0.05, err
    assert err["mean_abs_error"] < 0.02, err
    # D's loss at the end is -V(G, D) estimated on a batch: close to -V(G, D*) = log 4 - 2 JSD
    v_star = theory.game_value(p, q)
    assert abs(np.mean(losses[-50:]) + v_star) < 0.02
    assert theory.game_value(p, q, D.prob) <= v_star + 1e-9  # D* maximises V(G, .)
    assert theory.game_value(p, q, D.prob) > v_star - 5e-3


# ---------------------------------------------------------------------- 2. value of the game
@pytest.mark.parametrize("pair", ["gaussians", "mixture", "equal"])
def test_value_at_d_star_is_two_jsd_minus_log4(pair):
    p, q = theory.PAIRS[pair]
    v, jsd = theory.game_value(p, q), theory.jensen_shannon(p, q)
    assert abs(v - (2 * jsd - LOG4)) < 1e-4
    mc, se = theory.jensen_shannon_mc(p, q, n=200_000)   # an independent estimate from samples
    assert abs(jsd - mc) < 5 * se + 1e-9
    assert 0 <= jsd <= math.log(2)


def test_value_minimum_is_minus_log4_only_at_p_g_equal_p_data():
    p = theory.gaussian(0.0, 1.0)
    assert abs(theory.game_value(p, p) + LOG4) < 1e-4 and theory.jensen_shannon(p, p) < 1e-10
    others = [theory.gaussian(0.1, 1.0), theory.gaussian(0.0, 1.2), theory.Mixture1D((-1.0, 1.0), (0.5, 0.5))]
    assert all(theory.game_value(p, q) > -LOG4 + 1e-3 for q in others)
    far = theory.gaussian(100.0, 1.0)                   # disjoint supports: JSD = log 2, V = 0
    assert abs(theory.jensen_shannon(p, far) - math.log(2)) < 1e-4 and abs(theory.game_value(p, far)) < 1e-4
    # any other D does worse than D*: a constant 1/2 gives exactly -log 4
    q = theory.PAIRS["gaussians"][1]
    assert abs(theory.game_value(p, q, lambda x: np.full_like(x, 0.5)) + LOG4) < 1e-4
    assert theory.game_value(p, q, lambda x: np.full_like(x, 0.5)) < theory.game_value(p, q)


# ---------------------------------------------------------------------- 3. saturation
def test_saturation_curves_are_the_objectives_gradients():
    c = saturation.saturation_curves(n=99)
    d = np.asarray(c["d"])
    np.testing.assert_allclose(c["minimax"]["cost"], np.log1p(-d), atol=1e-9)
    np.testing.assert_allclose(c["nonsaturating"]["cost"], -np.log(d), atol=1e-9)
    np.testing.assert_allclose(c["minimax"]["dcost_dlogit"], -d, atol=1e-9)         # vanishes as D -> 0
    np.testing.assert_allclose(c["nonsaturating"]["dcost_dlogit"], d - 1, atol=1e-9)  # -> -1 as D -> 0


def test_grad_norm_recorder_reads_g_step_gradients(tmp_path):
    t = gankit.Trainer(tiny(model="mlp", steps=2), tmp_path / "run")
    rec = saturation.GradNormRecorder()
    seen = []
    t.callbacks += [rec, lambda tr: seen.append(torch.cat([p.grad.flatten() for p in tr.G.parameters()]).norm())]
    t.train()
    assert len(rec.values()) == 2 and rec.values() == pytest.approx([float(s) for s in seen])
    assert all(v > 0 for v in rec.values())


def test_minimax_generator_starves_when_d_rejects_its_samples(tmp_path):
    cfg = tiny(model="mlp", steps=1, lr_d=2e-3, d_hidden=[64], optimizer="adam")
    strong = saturation.compare_objectives(gankit.Trainer, cfg, tmp_path / "strong", pretrain_d=100)
    mm, ns = strong["minimax"], strong["nonsaturating"]
    assert mm["d_fake"][0] == pytest.approx(ns["d_fake"][0])  # the same D and batch before G's first step
    assert mm["d_fake"][0] < 0.15                               # D confidently rejects G(z)
    assert mm["grad_norm"][0] < 0.1 * ns["grad_norm"][0]        # minimax: gradient ~ D, non-saturating ~ 1 - D
    fresh = saturation.compare_objectives(gankit.Trainer, cfg, tmp_path / "fresh", pretrain_d=0)
    ratio = fresh["minimax"]["grad_norm"][0] / fresh["nonsaturating"]["grad_norm"][0]
    assert 0.75 < ratio < 1.33                                 # D ~ 1/2: the two gradients agree


# ---------------------------------------------------------------------- 4. 1-D animation
def test_toy1d_animation_frames(tmp_path):
    cfg = toy1d.default_config(steps=20)
    result = toy1d.animate(gankit.Trainer, toy1d.DATA_1D["gaussian"], tmp_path, cfg, every=10)
    assert [f["step"] for f in result["frames"]] == [0, 10, 20]
    assert all(0 <= f["jsd"] <= math.log(2) + 1e-6 and 0 < f["mean_d_on_data"] < 1 for f in result["frames"])
    assert result["frames"][0]["jsd"] > 0.5  # G starts far from N(2, 0.5²)
    assert (tmp_path / "toy1d.gif").stat().st_size > 1000 and (tmp_path / "toy1d.png").is_file()


# ---------------------------------------------------------------------- 5. interpolation
def test_slerp_keeps_norms_and_endpoints():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(4, 64, generator=g), torch.randn(4, 64, generator=g)
    z1 = z1 / z1.norm(dim=1, keepdim=True) * z0.norm(dim=1, keepdim=True)  # equal norms
    t = torch.linspace(0, 1, 9)
    path = latent.slerp(z0, z1, t)
    assert path.shape == (9, 4, 64)
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)
    torch.testing.assert_close(path.norm(dim=-1), z0.norm(dim=-1).expand(9, 4), rtol=1e-5, atol=1e-5)
    # equal angular steps along the great circle
    cos = torch.nn.functional.cosine_similarity(path[:-1], path[1:], dim=-1)
    torch.testing.assert_close(cos, cos[:1].expand_as(cos), rtol=1e-4, atol=1e-4)
    # lerp cuts through the ball: its midpoint is shorter
    assert (latent.lerp(z0, z1, t)[4].norm(dim=-1) < 0.9 * z0.norm(dim=-1)).all()
    # unequal norms: the norm moves linearly; parallel vectors fall back to lerp without NaN
    mid = latent.slerp(z0, 3 * z0, torch.tensor([0.5]))[0]
    torch.testing.assert_close(mid, 2 * z0)


# ---------------------------------------------------------------------- 6. vector arithmetic
def test_vector_arithmetic_on_known_vectors():
    z = torch.eye(5) * torch.arange(1.0, 6.0)[:, None]
    out = latent.arithmetic(z, [0, 1], [2], [3, 4])
    torch.testing.assert_close(out, (z[0] + z[1]) / 2 - z[2] + (z[3] + z[4]) / 2)
    predicted, conf = torch.tensor([1, 2, 1, 1, 2]), torch.tensor([0.5, 0.9, 0.8, 0.95, 0.6])
    assert latent.select_by_label(predicted, conf, 1, 2) == [3, 2]
    with pytest.raises(ValueError, match="only 2 samples"):
        latent.select_by_label(predicted, conf, 2, 3)


class LinearG(nn.Module):
    """A generator whose image is z itself (1 x 1 x z_dim): the rendered result reveals its z."""

    z_dim, num_classes = 6, 0

    def forward(self, z, y=None):
        return z[:, None, None, :]


def test_vector_arithmetic_renders_the_combined_vector(tmp_path):
    G = LinearG()
    result = latent.vector_arithmetic(G, {"a": [0, 1], "b": [2], "c": [3]}, tmp_path, pool=8, seed=5,
                                      n_results=3, noise=0.0)
    z = torch.randn(8, 6, generator=torch.Generator().manual_seed(5))
    expected = (z[0] + z[1]) / 2 - z[2] + z[3]
    assert result["result_z_norm"] == pytest.approx(float(expected.norm()), rel=1e-6)
    # by class, through a classifier that reads the sign of the first coordinate
    classifier = lambda x: torch.stack([-x.flatten(1)[:, 0], x.flatten(1)[:, 0]], 1)  # noqa: E731
    r = latent.vector_arithmetic(G, {"a": 1, "b": 0, "c": [4]}, tmp_path, pool=8, seed=5, per_group=2,
                                 classifier=classifier)
    assert all(z[i, 0] > 0 for i in r["groups"]["A"]) and all(z[i, 0] < 0 for i in r["groups"]["B"])
    top_a = z[:, 0].argsort(descending=True)[:2].tolist()
    assert sorted(r["groups"]["A"]) == sorted(top_a)


# ---------------------------------------------------------------------- 7. memorization
def test_nearest_neighbour_finds_a_planted_duplicate(tmp_path):
    g = torch.Generator().manual_seed(0)
    train = torch.rand(300, 1, 8, 8, generator=g) * 2 - 1
    samples = torch.rand(10, 1, 8, 8, generator=g) * 2 - 1
    samples[3] = train[123] + 0.01 * torch.randn(1, 8, 8, generator=g)   # a memorised image, slightly noisy
    result = memorization.memorization_check(samples, train, tmp_path,
                                             {"pixels": memorization.pixels, "down4": memorization.downsampled(4)},
                                             n_show=10)
    for space in ("pixels", "down4"):
        s = result["spaces"][space]
        assert s["nearest_index"][3] == 123
        assert s["sample_to_train_min"] < 0.1 * s["train_to_other_train_median"]
    # brute force agrees on every sample
    d = torch.cdist(samples.flatten(1), train.flatten(1))
    assert result["spaces"]["pixels"]["nearest_index"] == d.argmin(1).tolist()
    # exclude_self: a duplicated training image's nearest other image is its twin
    train[7] = train[250]
    idx, dist = memorization.nearest_neighbours(train.flatten(1)[:10], train.flatten(1), exclude_self=True)
    assert idx[7] == 250 and dist[7] < 1e-3 and (idx != torch.arange(10)).all()


# ---------------------------------------------------------------------- 8. collapse
def test_collapse_recorder_on_toy_and_labelled_data(tmp_path):
    t = gankit.Trainer(tiny(model="mlp", data="ring", num_points=512, steps=4, z_dim=2), tmp_path / "ring")
    rec = CollapseRecorder(every=2, n=300)
    rec.record(t)
    t.callbacks.append(rec)
    t.train()
    assert [r["step"] for r in rec.records] == [0, 2, 4]
    assert all(r["num_modes"] == 8 and 0 <= r["modes"] <= 8 for r in rec.records)
    saved = rec.save(tmp_path / "ring-out")
    assert (tmp_path / "ring-out" / "collapse.gif").stat().st_size > 1000
    assert [r["step"] for r in json.loads(json.dumps(saved))["records"]] == [0, 2, 4]
    # a generator sitting exactly on one mode scores 1 of 8 modes
    rec1 = CollapseRecorder(every=1, n=300)
    rec1._setup(t)
    t.generate = lambda z, y=None: torch.tensor([[2.0, 0.0]]).expand(len(z), 2)
    assert rec1.record(t)["modes"] == 1
    # labelled images: histogram of a classifier's labels
    t2 = gankit.Trainer(tiny(steps=2), tmp_path / "digits")
    rec2 = CollapseRecorder(every=1, n=200, classifier=lambda x: torch.nn.functional.one_hot(
        (x.mean((1, 2, 3)) > x.mean()).long(), 10).float())
    t2.callbacks.append(rec2)
    t2.train()
    assert [sum(r["counts"]) for r in rec2.records] == [200, 200]
    assert all(r["classes_present"] <= 2 and r["kl_to_uniform"] >= math.log(10) - math.log(2) - 1e-9
               for r in rec2.records)
    assert json.dumps(rec2.save(tmp_path / "digits-out"))


# ---------------------------------------------------------------------- the commands
TINY = ["--image-size", "8", "--z-dim", "4", "--g-width", "8", "--d-width", "8", "--g-hidden", "16",
        "--d-hidden", "16", "--batch-size", "16", "--device", "cpu"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    gankit.train(tiny(model="dcgan", steps=2, z_dim=4), root / "dcgan")
    gankit.train(tiny(model="cgan", steps=2, z_dim=4), root / "cgan")
    save_evaluator(LeNet(1, 8, 10, width=4, hidden=8), root / "lenet")
    return root


def _json(path):
    return json.loads(path.read_text())


def test_cli_theory_commands(tmp_path):
    assert main(["analyze", "optimal-d", "--pairs", "equal", "--d-steps", "30", "--batch-size", "256",
                 "--out", str(tmp_path / "od")]) == 0
    r = _json(tmp_path / "od" / "optimal-d.json")
    assert r["equal"]["max_abs_error"] < 0.1 and (tmp_path / "od" / "optimal-d.png").is_file()
    assert main(["analyze", "game-value", "--pairs", "gaussians", "equal", "--out", str(tmp_path / "gv")]) == 0
    r = _json(tmp_path / "gv" / "game-value.json")
    assert r["pairs"]["equal"]["value"] == pytest.approx(-LOG4, abs=1e-4)
    assert r["pairs"]["gaussians"]["abs_difference"] < 1e-4 and r["max_abs_difference_on_curves"] < 1e-4


def test_cli_training_commands(tmp_path):
    assert main(["analyze", "saturation", "--steps", "3", "--pretrain-d", "2", *TINY,
                 "--out", str(tmp_path / "sat")]) == 0
    r = _json(tmp_path / "sat" / "saturation.json")
    assert len(r["runs"]["minimax"]["grad_norm"]) == 3 and r["config"]["optimizer"] == "sgd"
    assert r["gradient_at_d"]["0.125"] == pytest.approx({"minimax": 0.125, "nonsaturating": 0.875})
    assert (tmp_path / "sat" / "saturation.png").is_file() and (tmp_path / "sat" / "saturation-curves.png").is_file()
    assert main(["analyze", "toy1d", "--steps", "10", "--every", "5", "--out", str(tmp_path / "t1")]) == 0
    assert len(_json(tmp_path / "t1" / "toy1d.json")["frames"]) == 3
    assert main(["analyze", "collapse", "--data", "ring", "--num-points", "512", "--steps", "4", "--every", "2",
                 "--samples", "200", "--out", str(tmp_path / "col")]) == 0
    r = _json(tmp_path / "col" / "collapse.json")
    assert [x["step"] for x in r["records"]] == [0, 2, 4] and (tmp_path / "col" / "collapse.gif").is_file()


def test_cli_run_commands(runs, tmp_path):
    out = tmp_path / "i"
    assert main(["analyze", "interpolate", str(runs / "cgan"), "--paths", "3", "--steps", "4", "--out", str(out)]) == 0
    r = _json(out / "interpolate.json")
    assert [x["method"] for x in r["interpolations"]] == ["linear", "slerp"] and r["class_grid"]["classes"] == 10
    for f in ("interpolate-linear.png", "interpolate-slerp.gif", "class-grid.png"):
        assert (out / f).stat().st_size > 100
    assert main(["analyze", "arithmetic", str(runs / "dcgan"), "--a", "0,1", "--b", "2", "--c", "3",
                 "--pool", "16", "--out", str(tmp_path / "a")]) == 0
    assert _json(tmp_path / "a" / "arithmetic.json")["groups"] == {"A": [0, 1], "B": [2], "C": [3]}
    # by class: pick group A as the pool samples the evaluator labels like sample 0
    assert main(["analyze", "arithmetic", str(runs / "dcgan"), "--a", "0,1", "--b", "2", "--c", "3", "--pool", "32",
                 "--evaluator", str(runs / "lenet"), "--out", str(tmp_path / "a2")]) == 0
    label = _json(tmp_path / "a2" / "arithmetic.json")["group_predicted_labels"]["A"][0]
    assert main(["analyze", "arithmetic", str(runs / "dcgan"), "--a", f"label={label}", "--b", "2", "--c", "3",
                 "--pool", "32", "--per-group", "1", "--evaluator", str(runs / "lenet"), "--out", str(tmp_path / "a3")]) == 0
    r = _json(tmp_path / "a3" / "arithmetic.json")
    assert len(r["groups"]["A"]) == 1 and r["group_predicted_labels"]["A"] == [label]
    assert main(["analyze", "memorization", str(runs / "dcgan"), "--samples", "50", "--show", "6",
                 "--evaluator", str(runs / "lenet"), "--out", str(tmp_path / "m")]) == 0
    r = _json(tmp_path / "m" / "memorization.json")
    assert set(r["spaces"]) == {"pixels", "lenet"} and r["n_train"] == 1797
    assert main(["analyze", "collapse", "--data", "digits", "--steps", "2", "--every", "1", "--samples", "100", *TINY,
                 "--evaluator", str(runs / "lenet"), "--out", str(tmp_path / "c")]) == 0
    r = _json(tmp_path / "c" / "collapse.json")
    assert [sum(x["counts"]) for x in r["records"]] == [100, 100, 100]


@pytest.mark.parametrize("argv,message", [
    (["arithmetic", "RUN", "--a", "label=3", "--b", "1", "--c", "2"], "need --evaluator"),
    (["arithmetic", "RUN", "--a", "0,999", "--b", "1", "--c", "2", "--pool", "16"], "indices must lie in [0, 16)"),
    (["arithmetic", "RUN", "--a", "x", "--b", "1", "--c", "2"], "bad group 'x'"),
    (["optimal-d", "--pairs", "nope"], "unknown density pair 'nope'"),
    (["toy1d", "--density", "nope"], "unknown --density 'nope'"),
    (["collapse", "--data", "digits", "--steps", "1", *TINY], "needs --evaluator"),
    (["interpolate", "NORUN"], "not a gankit run directory"),
    (["interpolate", "RUN", "--label", "3"], "--label needs a conditional generator"),
])
def test_cli_errors_are_one_line(argv, message, runs, tmp_path, capsys):
    argv = [str(runs / "dcgan") if a == "RUN" else str(tmp_path / "none") if a == "NORUN" else a for a in argv]
    assert main(["analyze", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("gankit: error: ") and message in err[-1], err
    assert not (tmp_path / "o").exists()  # nothing written for bad input
