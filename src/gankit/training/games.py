"""What one update computes: the adversarial *game* between the trainer's G and D.

The trainer owns the optimisation (optimisers, n_critic, AMP scalers, EMA, DDP, checkpoints,
logging); a game turns a data batch into the discriminator's and the generator's losses. The
noise-to-sample game below covers mlp / dcgan / cgan / acgan with any objective; image-to-image
models (pix2pix, CycleGAN) register their own game under their model name.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.toy import TOY_MODES
from ..losses import gradient_penalty, r1_penalty
from ..models import pack, source_logits
from ..registry import Registry

GAMES: Registry[type["Game"]] = Registry("game")


class Game:
    """Base class: ``d_loss`` and ``g_loss`` take the trainer (for G, D, objective, config, AMP
    and distributed helpers) and the batch of the current discriminator step."""

    #: True when the game reads (a, b) image pairs (ImagePairs data), not (samples, labels).
    needs_pairs = False

    def state_dict(self) -> dict:
        """Game state saved with each checkpoint (e.g. CycleGAN's image history buffer)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def scalars(self) -> dict[str, float]:
        """Extra loss terms to log at each log step (host values; called only then)."""
        return {}

    def d_loss(self, t, batch) -> tuple[Tensor, Tensor, Tensor]:
        """Returns (loss, D(x) report, D(G(z)) report)."""
        raise NotImplementedError

    def g_loss(self, t, batch) -> Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def preview(self, t) -> tuple[Tensor, dict]:
        """What the sample grid of a run shows, and extra plot arguments."""
        raise NotImplementedError


def game_for(model: str) -> Game:
    return (GAMES.get(model) if model in GAMES else NoiseGame)()


class NoiseGame(Game):
    """Goodfellow et al. 2014: G maps noise z (and a label, if conditional) to a sample; D tells
    data from samples. Adds AC-GAN's class loss when D returns class logits (Odena et al. 2017),
    the gradient penalty / R1 when configured, and PacGAN packing.

    G's step draws fresh noise (Algorithm 1); with ``reuse_fake`` it updates G on the fakes of the
    D step just taken, as pytorch/examples' dcgan does (one G forward per iteration instead of two)."""

    #: reuse_fake: (G's output with its graph, labels) from the last D step, for the G step
    _reused: tuple[Tensor, Tensor] | None = None

    @staticmethod
    def noise(t):
        """Labels and noise for a global batch (this rank's slice): identical on every rank."""
        B, G, part = t.cfg.batch_size, t.G, t.dist.slice
        y = part(G.sample_labels(B, t.device))
        return part(G.sample_z(B, t.device)), y

    def d_loss(self, t, batch):
        cfg, D, m = t.cfg, t.D_train, t.cfg.pack
        x, y = batch
        x = t.inputs(x)
        z, y_fake = self.noise(t)
        if cfg.reuse_fake:  # keep G's graph for the G step
            with t.autocast():
                generated = t.G_train(z, y_fake)
            self._reused = generated, y_fake
            fake = generated.detach().float()
        else:
            with torch.no_grad(), t.autocast():
                fake = t.G(z, y_fake).float()
        if cfg.r1_gamma > 0:
            x.requires_grad_(True)
        with t.autocast():
            real_out, fake_out = D(pack(x, m), y), D(pack(fake, m), y_fake)
        real, fake_logits = source_logits(real_out).float(), source_logits(fake_out).float()
        loss = t.objective.d_loss(real, fake_logits)
        if isinstance(real_out, tuple):  # AC-GAN: D also maximises the log-likelihood of the class, L_C
            l_c = F.cross_entropy(real_out[1].float(), y)  # Odena et al. 2017, Eq. 3: real and fake
            if cfg.aux_fake:  # --no-aux-fake: real only, so D's classifier is one of real data
                l_c = l_c + F.cross_entropy(fake_out[1].float(), y_fake)
            loss = loss + cfg.aux_weight * l_c
        if t.gp_weight > 0:  # eps drawn for the global batch, like the noise
            eps = t.dist.slice(torch.rand(cfg.batch_size // m, device=t.device))
            loss = loss + t.gp_weight * gradient_penalty(lambda v: source_logits(t.D(v, y)),
                                                         pack(x, m), pack(fake, m), eps)
        if cfg.r1_gamma > 0:
            loss = loss + cfg.r1_gamma / 2 * r1_penalty(real, x)
        d_out = t.objective.d_output
        return loss, d_out(real.detach()).mean(), d_out(fake_logits.detach()).mean()

    def g_loss(self, t, batch):
        if self._reused is not None:  # reuse_fake: the D step's fakes
            (fake, y_fake), self._reused = self._reused, None
        else:  # fresh noise for G's step (Algorithm 1)
            z, y_fake = self.noise(t)
            with t.autocast():
                fake = t.G_train(z, y_fake)
        with t.autocast():
            out = t.D(pack(fake, t.cfg.pack), y_fake)
        loss = t.objective.g_loss(source_logits(out).float())
        if isinstance(out, tuple):  # AC-GAN: G also maximises L_C
            loss = loss + t.cfg.aux_weight * F.cross_entropy(out[1].float(), y_fake)
        return loss

    @torch.no_grad()
    def preview(self, t):
        if t.spec.kind != "points":
            return t.generate(t.fixed_z, t.fixed_y), {}
        g = torch.Generator().manual_seed(t.cfg.seed + 2)
        samples = t.generate(torch.randn(2000, t.cfg.z_dim, generator=g).to(t.device))
        centres = TOY_MODES[t.cfg.data][0]() if t.cfg.data in TOY_MODES else None
        return samples, {"reference": t.data.x[:2000], "centres": centres}
