"""What one update computes: the adversarial *game* between a G and a D.

The trainer owns the optimisation (optimisers, n_critic, AMP scalers, EMA, DDP, checkpoints,
logging); a game is built with exactly what it computes with, as stylegan2-ada's ``training/loss.py``
is: G and D (the plain modules, and the wrappers the updates run: DDP, compiled), the objective, the
regularisers, an autocast context factory and plain values. It turns a data batch into the named
terms of the discriminator's and the generator's losses, which the trainer sums. The noise-to-sample
game below covers mlp / dcgan / cgan / acgan with any objective; image-to-image models (pix2pix,
CycleGAN) register their own game under their model name.
"""
from __future__ import annotations

import contextlib
import functools
import operator
from typing import Callable, ContextManager, Sequence

import torch
from torch import Tensor, nn

from ..augment import Augmentation, build_augmentation
from ..data.toy import TOY_MODES
from ..losses import DiscriminatorPass, GeneratorPass, Objective, Regularizer, build_regularizers
from ..models import pack, source_logits
from ..models.layers import evaluating
from ..registry import Registry

GAMES: Registry[type["Game"]] = Registry("game")
GAMES.lazy(("pix2pix", "cyclegan"), "gankit.translation")  # image-to-image games: registered there

Terms = dict[str, Tensor]  # named loss terms, summed in their order


def same(x):
    return x


def total(terms: Terms) -> Tensor:
    """The loss: the terms added left to right, in their order (the first one is the objective's)."""
    return functools.reduce(operator.add, terms.values())


def autocast_factory(device_type: str, dtype: torch.dtype | None) -> Callable[[], ContextManager]:
    """A zero-argument factory of the autocast context of the updates (a null context without AMP)."""
    if dtype is None:
        return contextlib.nullcontext
    return functools.partial(torch.autocast, device_type, dtype=dtype)


def input_format(channels_last: bool) -> Callable[[Tensor], Tensor]:
    """How data batches enter the networks: NHWC memory format for images with ``channels_last``."""
    if not channels_last:
        return same
    return lambda x: x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


class Game:
    """Base class. ``d_loss(batch)`` returns (D's named loss terms, D(x) report, D(G(z)) report);
    ``g_loss(batch)`` G's named loss terms, for the batch of the current discriminator step.

    ``G``/``D`` are the plain modules (what G's step calls D through: frozen, no DDP bookkeeping);
    ``G_train``/``D_train`` the ones the updates train through (DDP wrappers, compiled; default:
    the plain modules). ``autocast()`` opens the AMP context; ``inputs`` formats data batches.
    """

    #: True when the game reads (a, b) image pairs (ImagePairs data), not (samples, labels).
    needs_pairs = False

    def __init__(self, G: nn.Module, D: nn.Module, objective: Objective, *, G_train: nn.Module | None = None,
                 D_train: nn.Module | None = None, autocast: Callable[[], ContextManager] = contextlib.nullcontext,
                 inputs: Callable[[Tensor], Tensor] = same):
        self.G, self.D, self.objective = G, D, objective
        self.G_train = G if G_train is None else G_train
        self.D_train = D if D_train is None else D_train
        self.autocast, self.inputs = autocast, inputs

    @classmethod
    def from_config(cls, cfg, *, part: Callable = same, device: torch.device | None = None, **modules) -> "Game":
        """The game of ``cfg``: ``modules`` are the constructor's (G, D, objective, G_train, D_train,
        autocast, inputs); ``part`` (this rank's share of a global-batch tensor) and ``device`` are
        for games that draw noise."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Game state saved with each checkpoint (e.g. CycleGAN's image history buffer)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def scalars(self) -> dict[str, float]:
        """Extra loss terms to log at each log step (host values; called only then)."""
        return {}

    def d_loss(self, batch) -> tuple[Terms, Tensor, Tensor]:
        raise NotImplementedError

    def g_loss(self, batch) -> Terms:
        raise NotImplementedError

    @torch.no_grad()
    def preview(self, G: nn.Module, data, z: Tensor | None = None, y: Tensor | None = None) -> tuple[Tensor, dict]:
        """What the sample grid of a run shows, and extra plot arguments: from ``G``, the generator to
        show (the EMA one when kept), the run's ``data`` and its fixed noise ``z`` and labels ``y``."""
        raise NotImplementedError


def game_class(model: str) -> type[Game]:
    return GAMES.get(model) if model in GAMES else NoiseGame


def build_game(cfg, **modules) -> Game:
    """The game of ``cfg.model`` (see ``Game.from_config`` for ``modules``)."""
    return game_class(cfg.model).from_config(cfg, **modules)


class NoiseGame(Game):
    """Goodfellow et al. 2014: G maps noise z (and a label, if conditional) to a sample; D tells
    data from samples, judging ``pack`` samples at once (PacGAN, Lin et al. 2018). The regularisers
    (``losses.REGULARIZERS``: gradient penalty, R1, AC-GAN's class term) add their terms.

    G's step draws fresh noise (Algorithm 1); with ``reuse_fake`` it updates G on the fakes of the
    D step just taken, as pytorch/examples' dcgan does (one G forward per iteration instead of two).
    Noise is drawn for the global ``batch_size`` on ``device``; ``part`` keeps this rank's share.
    """

    #: reuse_fake: (G's output with its graph, labels) from the last D step, for the G step
    _reused: tuple[Tensor, Tensor] | None = None

    def __init__(self, G, D, objective, regularizers: Sequence[Regularizer] = (), *, batch_size: int,
                 part: Callable = same, device: torch.device | None = None, pack: int = 1,
                 reuse_fake: bool = False, preview_seed: int = 2, centres: Tensor | None = None,
                 augment: Augmentation | None = None, **modules):
        super().__init__(G, D, objective, **modules)
        self.regularizers, self.augment = list(regularizers), augment
        self.batch_size, self.part, self.device = batch_size, part, device
        self.pack, self.reuse_fake = pack, reuse_fake
        self.preview_seed, self.centres = preview_seed, centres  # 2-D points: the preview's noise, modes
        self.d_steps = 0  # discriminator steps taken (lazy regularisation); checkpointed

    @classmethod
    def from_config(cls, cfg, *, part=same, device=None, **modules):
        return cls(regularizers=build_regularizers(cfg), batch_size=cfg.batch_size, part=part, device=device,
                   pack=cfg.pack, reuse_fake=cfg.reuse_fake, preview_seed=cfg.seed + 2,
                   centres=TOY_MODES[cfg.data][0]() if cfg.data in TOY_MODES else None,
                   augment=build_augmentation(cfg), **modules)

    def state_dict(self) -> dict:
        state = {"d_steps": self.d_steps}
        if self.augment is not None:
            state["augment"] = self.augment.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.d_steps = int(state.get("d_steps", 0))  # checkpoints of gankit 0.1.0 have none
        if self.augment is not None:
            self.augment.load_state_dict(state.get("augment", {}))

    def scalars(self) -> dict[str, float]:
        return self.augment.scalars() if self.augment is not None else {}

    def d_input(self, x: Tensor) -> Tensor:
        """A batch as D sees it: augmented (``--augment``, per sample: DiffAugment, ADA), then ``pack``
        samples concatenated into one input (PacGAN). Every pass through D goes through here: reals and
        fakes of D's step, G's fakes (differentiably), the penalties' inputs (R1/R2 differentiate w.r.t.
        the un-augmented batch, through the augmentation; the gradient penalty's interpolates are of
        augmented batches)."""
        return pack(x if self.augment is None else self.augment(x), self.pack)

    def critic(self, x: Tensor, y: Tensor | None) -> Tensor:
        """Source logits of the plain D on D's input format (the penalties' own passes)."""
        return source_logits(self.D(x, y))

    def uniform(self) -> Tensor:
        """One U[0, 1) draw per D input of the global batch (like the noise), this rank's share."""
        return self.part(torch.rand(self.batch_size // self.pack, device=self.device))

    def noise(self) -> tuple[Tensor, Tensor | None]:
        """Noise and labels for a global batch (this rank's slice): identical on every rank."""
        B, G, part = self.batch_size, self.G, self.part
        y = part(G.sample_labels(B, self.device))
        return part(G.sample_z(B, self.device)), y

    def d_loss(self, batch):
        x, y = batch
        x = self.inputs(x)
        z, y_fake = self.noise()
        if self.reuse_fake:  # keep G's graph for the G step
            with self.autocast():
                generated = self.G_train(z, y_fake)
            self._reused = generated, y_fake
            fake = generated.detach().float()
        else:
            with torch.no_grad(), self.autocast():
                fake = self.G(z, y_fake).float()
        due = [r for r in self.regularizers if r.due(self.d_steps)]  # lazy penalties: only on their steps
        if any(r.needs_real_grad for r in due):  # a penalty on grad_x D(x) (R1) differentiates w.r.t. the batch
            x.requires_grad_(True)
        if any(r.needs_fake_grad for r in due):
            fake.requires_grad_(True)
        with self.autocast():
            real_out, fake_out = self.D_train(self.d_input(x), y), self.D_train(self.d_input(fake), y_fake)
        real, fake_logits = source_logits(real_out).float(), source_logits(fake_out).float()
        if self.augment is not None:  # ADA: r_t = E[sign(D(x_real))] adjusts p
            self.augment.observe(real)
        terms = {"adv": self.objective.d_loss(real, fake_logits)}
        seen = DiscriminatorPass(real=x, fake=fake, y_real=y, y_fake=y_fake, real_out=real_out, fake_out=fake_out,
                                 real_logits=real, fake_logits=fake_logits, d_input=self.d_input,
                                 critic=self.critic, uniform=self.uniform, step=self.d_steps)
        self.d_steps += 1
        for r in self.regularizers:
            if (term := r.d_term(seen)) is not None:
                terms[r.name] = term
        d_out = self.objective.d_output
        return terms, d_out(real.detach()).mean(), d_out(fake_logits.detach()).mean()

    def g_loss(self, batch):
        if self._reused is not None:  # reuse_fake: the D step's fakes
            (fake, y_fake), self._reused = self._reused, None
        else:  # fresh noise for G's step (Algorithm 1)
            z, y_fake = self.noise()
            with self.autocast():
                fake = self.G_train(z, y_fake)
        with self.autocast():
            out = self.D(self.d_input(fake), y_fake)
        logits = source_logits(out).float()
        if self.objective.relativistic:  # G's loss compares with D on the real batch of this D step
            x, y = batch
            with torch.no_grad(), self.autocast():
                real = source_logits(self.D(self.d_input(self.inputs(x)), y)).float()
            terms = {"adv": self.objective.g_loss(logits, real)}
        else:
            terms = {"adv": self.objective.g_loss(logits)}
        seen = GeneratorPass(fake=fake, y_fake=y_fake, fake_out=out, fake_logits=logits)
        for r in self.regularizers:
            if (term := r.g_term(seen)) is not None:
                terms[r.name] = term
        return terms

    @torch.no_grad()
    def preview(self, G, data, z=None, y=None):
        """Image data: G's samples of the fixed noise. 2-D points: 2000 samples over the data and
        the modes of the mixture."""
        if data.spec.kind != "points":
            with evaluating(G):
                return G(z, y), {}
        g = torch.Generator().manual_seed(self.preview_seed)
        with evaluating(G):
            samples = G(torch.randn(2000, G.z_dim, generator=g).to(self.device))
        return samples, {"reference": data.x[:2000], "centres": self.centres}
