"""The trainer: every model x objective trains; determinism; exact resume; outputs of a run."""
import json

import pytest
import torch
from safetensors.torch import load_file

import gankit
from gankit import Trainer
from gankit.errors import ConfigError
from gankit.losses import OBJECTIVES
from gankit.models import MODELS
from gankit.training.games import GAMES, total

from conftest import tiny


def _weights(path):
    return load_file(str(path))


@pytest.mark.parametrize("model", [m for m in MODELS.names() if m not in GAMES])  # translation: test_translation.py
@pytest.mark.parametrize("loss", OBJECTIVES.names())
def test_every_model_and_objective_trains(model, loss, tmp_path):
    cfg = tiny(model=model, loss=loss, steps=4, n_critic=2 if "w" in loss else 1)
    t = Trainer(cfg, tmp_path / "run")
    before = {k: v.clone() for k, v in t.G.state_dict().items()}
    result = t.train()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 4
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        values = [r[key] for r in rows]
        assert all(torch.isfinite(torch.tensor(values))), values
    assert len({r["d_loss"] for r in rows}) > 1 and len({r["g_loss"] for r in rows}) > 1  # losses move
    after = t.G.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if after[k].is_floating_point())
    assert result["steps"] == 4


@pytest.mark.parametrize("extra", [dict(r1_gamma=1.0), dict(gp_weight=5.0), dict(spectral_norm=True),
                                   dict(ema_decay=0.9), dict(optimizer="sgd"), dict(optimizer="rmsprop"),
                                   dict(pack=2), dict(pack=4, loss="wgan-gp", r1_gamma=1.0),
                                   dict(pack=2, model="mlp", data="ring", num_points=256)])
def test_regularisers_and_options_with_nonsaturating(extra, tmp_path):
    t = Trainer(tiny(steps=3, **extra), tmp_path / "run")
    t.train()
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor([r["d_loss"] for r in rows])))
    if "ema_decay" in extra:
        assert (tmp_path / "run" / "generator_ema.safetensors").exists()
        ema, raw = t.ema.model.state_dict(), t.G.state_dict()
        assert any(not torch.equal(ema[k], raw[k]) for k in raw if raw[k].is_floating_point())


def test_n_critic_uses_fresh_minibatches(tmp_path):
    t = Trainer(tiny(steps=2, n_critic=3, batch_size=16), tmp_path / "run")
    t.train()
    # 2 generator steps x 3 critic steps x 16 = 96 real samples read in order from one permutation
    assert t.sampler.epoch == 0 and t.sampler.cursor == 96


def test_points_data_trains_and_plots(tmp_path):
    result = gankit.train(tiny(model="mlp", data="ring", num_points=512, steps=5), tmp_path / "run")
    assert (tmp_path / "run" / "samples.png").stat().st_size > 1000
    assert result["steps"] == 5


def test_same_seed_gives_bit_identical_weights(tmp_path):
    cfg = tiny(model="mlp", steps=6, dropout=0.3, ema_decay=0.5)
    gankit.train(cfg, tmp_path / "a")
    gankit.train(cfg, tmp_path / "b")
    gankit.train(cfg.replace(seed=1), tmp_path / "c")
    a, b, c = (_weights(tmp_path / r / "generator.safetensors") for r in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("model", ["mlp", "dcgan", "acgan"])
def test_resumed_run_equals_unbroken_run(model, tmp_path):
    """Train 8 steps at once, or 5 steps then resume to 8: identical weights, bit for bit
    (dropout RNG, data order across an epoch boundary, Adam moments, BN stats, EMA)."""
    cfg = tiny(model=model, steps=8, batch_size=256, ema_decay=0.9, checkpoint_every=5)  # 7 batches/epoch
    gankit.train(cfg, tmp_path / "full")
    gankit.train(cfg.replace(steps=5), tmp_path / "part")
    t = Trainer(cfg, tmp_path / "part", resume=True)
    assert t.step == 5
    t.train()
    for name in ("generator", "discriminator", "generator_ema"):
        full, part = _weights(tmp_path / "full" / f"{name}.safetensors"), _weights(tmp_path / "part" / f"{name}.safetensors")
        assert full.keys() == part.keys()
        assert all(torch.equal(full[k], part[k]) for k in full), name


def test_run_directory_outputs_and_load(tmp_path):
    cfg = tiny(model="cgan", steps=6, batch_size=256)  # 7 batches per epoch -> one epoch boundary
    result = gankit.train(cfg, tmp_path / "run")
    run = tmp_path / "run"
    for f in ("config.json", "generator.safetensors", "discriminator.safetensors", "metrics.jsonl",
              "samples.png", "curves.png", "training.gif", "report.md", "checkpoints/latest"):
        assert (run / f).is_file(), f
    assert len(list((run / "samples").glob("*.png"))) >= 1
    assert result["report"].endswith("report.md")
    G = gankit.load(run)
    assert not G.training
    x = G.sample(10, labels=3, seed=0)
    assert x.shape == (10, 1, 8, 8)
    assert torch.equal(x, G.sample(10, labels=3, seed=0))
    assert not torch.equal(x, G.sample(10, labels=4, seed=0))
    with pytest.raises(ValueError, match="label out of range"):
        G.sample(2, labels=10)


def test_existing_run_directory_is_refused(tmp_path):
    gankit.train(tiny(steps=1), tmp_path / "run")
    before = (tmp_path / "run" / "generator.safetensors").read_bytes()
    with pytest.raises(gankit.errors.GankitError, match="already exists; pass --resume"):
        gankit.train(tiny(steps=2, seed=5), tmp_path / "run")
    assert (tmp_path / "run" / "generator.safetensors").read_bytes() == before
    gankit.train(tiny(steps=2, seed=5), tmp_path / "run", overwrite=True)
    assert (tmp_path / "run" / "generator.safetensors").read_bytes() != before


def test_tensorboard_scalars_and_image_grids(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    gankit.train(tiny(steps=4, tensorboard=True, sample_every=2), tmp_path / "run")
    acc = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    acc.Reload()
    tags = acc.Tags()
    assert {"train/d_loss", "train/g_loss", "train/d_real", "train/d_fake"} <= set(tags["scalars"])
    assert [e.step for e in acc.Scalars("train/g_loss")] == [1, 2, 3, 4]
    assert "samples" in tags["images"] and len(acc.Images("samples")) >= 2


def test_linear_lr_decay_schedule_and_exact_resume(tmp_path):
    cfg = tiny(model="mlp", steps=8, batch_size=64, lr_g=1e-3, lr_d=4e-3, lr_decay="linear", lr_decay_start=0.5,
               ema_decay=0.9, checkpoint_every=100)
    seen = []
    t = Trainer(cfg, tmp_path / "full")
    t.callbacks.append(lambda tr: seen.append((tr.opt_g.param_groups[0]["lr"], tr.opt_d.param_groups[0]["lr"])))
    t.train()
    factors = [1, 1, 1, 1, 1, 0.75, 0.5, 0.25]  # constant for half the run, then linear towards 0
    assert seen == [pytest.approx((1e-3 * f, 4e-3 * f)) for f in factors]

    def stop_at_5(tr):
        tr.stop_requested = tr.step == 5
    part = Trainer(cfg, tmp_path / "part")
    part.callbacks.append(stop_at_5)
    part.train()
    assert part.step == 5
    resumed = Trainer(cfg, tmp_path / "part", resume=True)
    assert resumed.opt_g.param_groups[0]["lr"] == pytest.approx(0.75e-3)
    resumed.train()
    for name in ("generator", "discriminator", "generator_ema"):
        full, again = (_weights(tmp_path / r / f"{name}.safetensors") for r in ("full", "part"))
        assert all(torch.equal(full[k], again[k]) for k in full), name
    with pytest.raises(ConfigError, match="lr_decay_start must be in"):
        tiny(lr_decay="linear", lr_decay_start=1.0)


@pytest.mark.parametrize("aux_weight", [1.0, 2.0])
def test_acgan_class_loss_on_fakes_is_the_only_difference_of_aux_fake(aux_weight, tmp_path):
    """Odena et al. 2017, Eq. 3: D's L_C covers real and generated samples; ``aux_fake=False`` drops
    exactly aux_weight * CE(D's class logits of the fakes, their requested labels)."""
    import torch.nn.functional as F

    losses, seen = {}, {}
    for aux_fake in (True, False):
        t = Trainer(tiny(model="acgan", spectral_norm=True, aux_weight=aux_weight, aux_fake=aux_fake), tmp_path / str(aux_fake))
        calls = []
        t.D_train.register_forward_hook(lambda m, inp, out: calls.append((inp[1], out[1].detach())))
        batch = t.data.batch(t.sampler.next(), t.device)
        torch.manual_seed(0)
        losses[aux_fake] = total(t.game.d_loss(batch)[0]).item()
        seen[aux_fake] = calls[1]  # D(real), then D(fake)
    y_fake, logits = seen[True]
    assert torch.equal(y_fake, seen[False][0]) and torch.allclose(logits, seen[False][1])
    extra = aux_weight * F.cross_entropy(logits.float(), y_fake).item()
    assert extra > 0.1  # an untrained classifier: near log 10
    assert losses[True] - losses[False] == pytest.approx(extra, rel=1e-5)


def test_reuse_fake_updates_g_on_the_d_steps_fakes(tmp_path):
    """``reuse_fake`` (pytorch/examples' dcgan): one G forward per iteration, and D's input in G's step
    is exactly the fake batch D was trained against; by default G's step draws fresh noise."""
    seen = {}
    for reuse in (False, True):
        t = Trainer(tiny(reuse_fake=reuse, steps=3), tmp_path / str(reuse))
        g_calls, d_inputs = [], []
        t.G.register_forward_hook(lambda m, inp, out: g_calls.append(1))
        t.D.register_forward_hook(lambda m, inp, out: d_inputs.append(inp[0].detach().clone()))
        before = {k: v.clone() for k, v in t.G.state_dict().items()}
        t.d_step()
        t.g_step()
        seen[reuse] = len(g_calls), torch.equal(d_inputs[1], d_inputs[2])  # D(real), D(fake) | D(fake) for G
        assert any(not torch.equal(before[k], v) for k, v in t.G.state_dict().items() if v.is_floating_point())
        t.train()  # and a run trains through it
        rows = [json.loads(x) for x in (tmp_path / str(reuse) / "metrics.jsonl").read_text().splitlines()]
        assert len(rows) == 3 and all(torch.isfinite(torch.tensor([r["g_loss"] for r in rows])))
    assert seen == {False: (2, False), True: (1, True)}
    with pytest.raises(ConfigError, match="reuse-fake needs one D step per G step"):
        tiny(reuse_fake=True, n_critic=2)
    with pytest.raises(ConfigError, match="reuse-fake"):
        tiny(reuse_fake=True, model="pix2pix")
