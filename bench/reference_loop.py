"""A plain-PyTorch re-implementation of pytorch/examples' ``dcgan/main.py`` training algorithm.

Written for the speed benchmarks (bench/throughput.py, bench/time_to_quality.py) so the reference
algorithm can run in-process at any architecture and be evaluated at intervals; it is *not* a copy of
main.py and not part of gankit. One iteration, as main.py does it:

* D: ``zero_grad``; ``BCE(D(x), 1).backward()``; ``fake = G(z)`` (with G's graph);
  ``BCE(D(fake.detach()), 0).backward()``; ``optimizerD.step()`` (two backward passes);
* G: ``zero_grad``; ``BCE(D(fake), 1).backward()``, reusing the D step's ``fake`` (no fresh noise)
  and computing D's weight gradients too (main.py does not freeze D; they are zeroed next time);
  ``optimizerG.step()``;
* five ``.item()`` reads per iteration for the log line (host syncs; free on the CPU).

Networks: the ones gankit builds for the config (at 64x64 with nz=100, ngf=ndf=64 these are main.py's
Generator and Discriminator layer for layer), with main.py's ``nn.Sigmoid`` after D's logit and
``nn.BCELoss``; init N(0, 0.02) (BatchNorm scale N(1, 0.02)) as main.py's ``weights_init``;
Adam(lr, betas=(beta1, 0.999)) for both. Data: a ``DataLoader`` over the same uint8 images gankit
trains on (shuffled, batch 64, the ragged last batch kept, ``num_workers=0``), scaled to [-1, 1] per batch
as main.py's ``ToTensor`` + ``Normalize(0.5, 0.5)``.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn

if not __package__:  # python bench/reference_loop.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
import bench._common  # noqa: E402,F401  (makes this checkout's src/ importable)

from gankit.config import TrainConfig  # noqa: E402
from gankit.data import TensorData  # noqa: E402
from gankit.models import build_models  # noqa: E402


class ReferenceLoop:
    """pytorch/examples' DCGAN algorithm on gankit's networks for ``cfg`` (see the module docstring)."""

    def __init__(self, cfg: TrainConfig, data: TensorData, seed: int = 0):
        torch.manual_seed(seed)
        self.cfg, self.data = cfg, data
        self.G, D = build_models(cfg, data.spec)  # same init as main.py's weights_init
        self.netD = nn.Sequential(D, nn.Sigmoid())
        self.criterion = nn.BCELoss()
        betas = (cfg.beta1, 0.999)
        self.optimizerD = torch.optim.Adam(self.netD.parameters(), lr=cfg.lr, betas=betas)
        self.optimizerG = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=betas)
        generator = torch.Generator().manual_seed(seed)
        self.loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data.x), batch_size=cfg.batch_size,
                                                  shuffle=True, num_workers=0, generator=generator)
        self.iterations = 0

    def step(self, real_u8: torch.Tensor) -> dict:
        """One D and one G update on a batch of uint8 images; returns main.py's five logged numbers."""
        netD, netG, criterion = self.netD, self.G, self.criterion
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        real = real_u8.float().div(255).sub(0.5).div(0.5)
        batch_size = real.size(0)
        label = torch.full((batch_size,), 1.0)
        output = netD(real)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        noise = torch.randn(batch_size, netG.z_dim)
        fake = netG(noise)
        label.fill_(0.0)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        self.optimizerD.step()
        # (2) Update G network: maximize log(D(G(z))), on the same fake
        netG.zero_grad()
        label.fill_(1.0)
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        self.optimizerG.step()
        self.iterations += 1
        return {"errD": errD.item(), "errG": errG.item(), "D_x": D_x, "D_G_z1": D_G_z1, "D_G_z2": D_G_z2}

    def run(self, iterations: int, callback=None) -> list[float]:
        """Train ``iterations`` steps over as many epochs as needed; ``callback(self)`` after each
        (a true result stops the run). Returns the ``time.perf_counter()`` at the end of every iteration."""
        times = []
        while len(times) < iterations:
            for (x,) in self.loader:
                self.step(x)
                times.append(time.perf_counter())
                if (callback is not None and callback(self)) or len(times) == iterations:
                    return times
        return times
