"""Models own their config: each network's constructor arguments are recorded in the run (and in a
save_pretrained folder) and rebuild it without the training config; the hub paths run offline."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

import gankit
from gankit.errors import GankitError
from gankit.models import build_models
from gankit.models.layers import GeneratorBase
from gankit.models.network import build_network
from gankit.models.pretrained import from_pretrained, save_pretrained

from conftest import tiny


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("pretrained") / "run"
    gankit.train(tiny(model="cgan", steps=2, spectral_norm=True), path)
    return path


def test_run_records_each_networks_arguments(run):
    meta = json.loads((run / "config.json").read_text())
    assert meta["format"] == 2
    assert meta["generator"] == {"class": "DCGANGenerator", "spectral_norm": False, "args": {
        "channels": 1, "size": 8, "z_dim": 8, "width": 8, "num_classes": 10, "embed_dim": 0, "norm": "batch",
        "latent_categories": 0, "latent_scale": 10.0}}
    assert meta["discriminator"]["class"] == "DCGANDiscriminator" and meta["discriminator"]["spectral_norm"]
    assert meta["discriminator"]["args"]["norm"] == "none"  # d_norm auto under spectral norm


def test_generator_is_rebuilt_from_its_own_arguments_not_the_training_config(run, tmp_path):
    import shutil

    copy = shutil.copytree(run, tmp_path / "copy")
    meta = json.loads((copy / "config.json").read_text())
    meta["config"]["g_width"] = 64  # a training config that would build another architecture
    (copy / "config.json").write_text(json.dumps(meta))
    G = gankit.load(copy)
    assert G.model_args["width"] == 8 and G.main[0].out_channels == 8  # size 8: one up-sampling, width 8
    torch.testing.assert_close(G.sample(4, labels=3, seed=1), gankit.load(run).sample(4, labels=3, seed=1))


def test_build_network_round_trip_for_every_family():
    import gankit.translation  # noqa: F401  (registers pix2pix / cyclegan)
    from gankit.data import DataSpec

    image, points = DataSpec((1, 16, 16), 10, "image"), DataSpec((2,), 0, "points")
    for cfg, spec in [(tiny(model="dcgan", image_size=16), image), (tiny(model="acgan", image_size=16), image),
                      (tiny(model="cgan", backbone="mlp", conditioning="concat"), image),
                      (tiny(model="mlp", data="ring"), points),
                      (tiny(model="pix2pix", data="edges2mnist", image_size=16), image),
                      (tiny(model="cyclegan", data="digits2inverted", image_size=16, spectral_norm=True), image)]:
        for net in build_models(cfg, spec):
            config = json.loads(json.dumps(net.network_config()))
            again = build_network(config)
            assert type(again) is type(net)
            assert {k: v.shape for k, v in again.state_dict().items()} == \
                   {k: v.shape for k, v in net.state_dict().items()}


def test_save_pretrained_folder_round_trip(run, tmp_path):
    G = gankit.load(run)
    folder = G.save_pretrained(tmp_path / "model", extra={"data_spec": G.data_spec.to_dict()})
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert "library_name: gankit" in (folder / "README.md").read_text()
    H = GeneratorBase.from_pretrained(folder)
    assert not H.training and H.pretrained_config["data_spec"]["num_classes"] == 10
    torch.testing.assert_close(H.sample(6, labels=2, seed=0), G.sample(6, labels=2, seed=0), atol=0, rtol=0)


def test_from_pretrained_refuses_what_is_not_a_model_folder(run, tmp_path):
    with pytest.raises(GankitError, match="training run directory"):
        from_pretrained(run)  # a run directory is loaded with gankit.load
    with pytest.raises(GankitError, match="neither a model folder nor a Hugging Face Hub id"):
        from_pretrained(tmp_path / "does" / "not" / "exist")
    _, D = gankit.load(run, discriminator=True)
    save_pretrained(D, tmp_path / "d")
    with pytest.raises(GankitError, match="not a GeneratorBase"):
        GeneratorBase.from_pretrained(tmp_path / "d")


def _hub_cache(tmp_path, folder, repo="user/tiny-gan", commit="0" * 40):
    """The Hugging Face cache layout (models--user--name/{refs/main, snapshots/<commit>/...}) as a
    download would leave it."""
    root = tmp_path / "hub" / f"models--{repo.replace('/', '--')}"
    snap = root / "snapshots" / commit
    snap.mkdir(parents=True)
    for f in folder.iterdir():
        (snap / f.name).write_bytes(f.read_bytes())
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)
    return tmp_path / "hub"


def test_from_pretrained_hub_id_offline_reads_the_hub_cache(run, tmp_path):
    G = gankit.load(run)
    cache = _hub_cache(tmp_path, G.save_pretrained(tmp_path / "model"))
    code = ("import torch, gankit; from gankit.models.layers import GeneratorBase; "
            f"H = GeneratorBase.from_pretrained('user/tiny-gan', cache_dir={str(cache)!r}); "
            "print(H.sample(3, labels=1, seed=0).sum().item())")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) == pytest.approx(G.sample(3, labels=1, seed=0).sum().item(), abs=1e-5)
    env_missing = subprocess.run([sys.executable, "-c", code.replace("user/tiny-gan", "user/absent")], env=env,
                                 capture_output=True, text=True)
    assert env_missing.returncode != 0 and "cannot fetch 'user/absent'" in env_missing.stderr


def test_push_to_hub_uploads_the_saved_folder(run, monkeypatch):
    import huggingface_hub as hub  # in the test extra, as in gankit[hub]
    calls = {}

    def create_repo(self, repo_id, **kw):
        calls["repo"] = repo_id

    def upload_folder(self, repo_id, folder_path, commit_message):
        from pathlib import Path

        calls["files"] = sorted(p.name for p in Path(folder_path).iterdir())
        calls["config"] = json.loads((Path(folder_path) / "config.json").read_text())
        return "https://huggingface.co/user/tiny-gan/commit/abc"

    monkeypatch.setattr(hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(hub.HfApi, "upload_folder", upload_folder)
    url = gankit.load(run).push_to_hub("user/tiny-gan")
    assert url.endswith("/commit/abc") and calls["repo"] == "user/tiny-gan"
    assert calls["files"] == ["README.md", "config.json", "model.safetensors"]
    assert calls["config"]["network"]["class"] == "DCGANGenerator"
