"""GAN objectives, each computed from the discriminator's raw outputs (logits).

Every objective is one small class registered by name. ``d_loss`` is what the
discriminator (critic) *minimises*, ``g_loss`` what the generator minimises. Log-probabilities
are written with ``softplus`` so nothing takes the log of a sigmoid output:
``-log D = softplus(-l)`` and ``-log(1 - D) = softplus(l)`` where ``D = sigmoid(l)``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..registry import Registry

OBJECTIVES: Registry[type["Objective"]] = Registry("loss")


class Objective:
    """Base class. Subclasses define the two losses; hooks are optional."""

    #: True when D's output is a probability logit (sigmoid makes sense for D(x) reports).
    probabilistic = True
    #: default weight of the WGAN-GP gradient penalty for this objective (0 = off).
    default_gp_weight = 0.0
    #: True when G's loss also compares with D on real data (``g_loss(fake, real)``): relativistic
    #: objectives, which pair real and fake batches of the same size.
    relativistic = False

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        raise NotImplementedError

    def g_loss(self, fake: Tensor) -> Tensor:
        raise NotImplementedError

    def d_output(self, logits: Tensor) -> Tensor:
        """What progress reports call D(x): a probability, or the raw critic value."""
        return torch.sigmoid(logits) if self.probabilistic else logits

    def after_d_step(self, discriminator: nn.Module) -> None:
        """Called after every discriminator update (WGAN's weight clipping)."""


@OBJECTIVES.register("minimax")
class Minimax(Objective):
    """The original, saturating game (Goodfellow et al. 2014, Eq. 1).

    D ascends E[log D(x)] + E[log(1 - D(G(z)))]; G descends E[log(1 - D(G(z)))].
    The generator's gradient vanishes as D(G(z)) -> 0, i.e. early in training.
    """

    def d_loss(self, real, fake):
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def g_loss(self, fake):
        return -F.softplus(fake).mean()  # = E[log(1 - sigmoid(fake))]


@OBJECTIVES.register("nonsaturating")
class NonSaturating(Minimax):
    """Goodfellow et al. 2014, Sec. 3: G ascends E[log D(G(z))] instead (strong early gradients)."""

    def g_loss(self, fake):
        return F.softplus(-fake).mean()  # = -E[log sigmoid(fake)]


@OBJECTIVES.register("wasserstein")
class Wasserstein(Objective):
    """WGAN (Arjovsky et al. 2017, Algorithm 1): critic maximises E[f(x)] - E[f(G(z))],
    kept Lipschitz by clipping its weights to [-clip_value, clip_value]."""

    probabilistic = False

    def __init__(self, clip_value: float = 0.01):
        self.clip_value = clip_value

    def d_loss(self, real, fake):
        return fake.mean() - real.mean()

    def g_loss(self, fake):
        return -fake.mean()

    @torch.no_grad()
    def after_d_step(self, discriminator):
        if self.clip_value > 0:
            for p in discriminator.parameters():
                p.clamp_(-self.clip_value, self.clip_value)


@OBJECTIVES.register("wgan-gp")
class WassersteinGP(Wasserstein):
    """WGAN-GP (Gulrajani et al. 2017, Eq. 3): the Wasserstein loss with a gradient penalty
    (lambda = 10) on random interpolates instead of weight clipping."""

    default_gp_weight = 10.0

    def __init__(self, clip_value: float = 0.0):
        super().__init__(clip_value=0.0)


@OBJECTIVES.register("lsgan")
class LeastSquares(Objective):
    """LSGAN (Mao et al. 2017, Eq. 2 with a=0, b=c=1): least-squares losses on raw outputs."""

    probabilistic = False

    def d_loss(self, real, fake):
        return 0.5 * ((real - 1).square().mean() + fake.square().mean())

    def g_loss(self, fake):
        return 0.5 * (fake - 1).square().mean()


@OBJECTIVES.register("hinge")
class Hinge(Objective):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018, Eq. 16 / SAGAN):
    D minimises E[relu(1 - D(x))] + E[relu(1 + D(G(z)))], G minimises -E[D(G(z))]."""

    probabilistic = False

    def d_loss(self, real, fake):
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def g_loss(self, fake):
        return -fake.mean()


def _paired(real: Tensor, fake: Tensor, name: str) -> None:
    if real.shape != fake.shape:
        from ..errors import GankitError

        raise GankitError(f"--loss {name} pairs each real sample with a generated one, but D saw {real.shape[0]} "
                          f"real and {fake.shape[0]} generated; use equal batches (the same --batch-size for both)")


@OBJECTIVES.register("rpgan")
class RelativisticPairing(Objective):
    """Relativistic pairing GAN (Jolicoeur-Martineau 2018, Eq. 10 with f = softplus; the loss R3GAN
    adopts, Huang et al. 2024, Eq. 2): D minimises E f(D(G(z)) - D(x)), G minimises E f(D(x) - D(G(z)))
    over pairs of a real and a generated sample. softplus(t) = -log sigmoid(-t)."""

    probabilistic = False
    relativistic = True

    def d_loss(self, real, fake):
        _paired(real, fake, "rpgan")
        return F.softplus(fake - real).mean()

    def g_loss(self, fake, real=None):
        _paired(real, fake, "rpgan")
        return F.softplus(real - fake).mean()


@OBJECTIVES.register("ragan")
class RelativisticAverage(Objective):
    """Relativistic average GAN, RaSGAN (Jolicoeur-Martineau 2018, Eqs. 11-12 with the logistic loss):
    D rates real samples above the average fake and fakes below the average real; G the reverse.
    L_D = E_x softplus(-(D(x) - E D(G(z)))) + E_z softplus(D(G(z)) - E D(x)); L_G swaps real and fake."""

    probabilistic = False
    relativistic = True

    @staticmethod
    def _loss(up: Tensor, down: Tensor) -> Tensor:
        return F.softplus(-(up - down.mean())).mean() + F.softplus(down - up.mean()).mean()

    def d_loss(self, real, fake):
        return self._loss(real, fake)

    def g_loss(self, fake, real=None):
        return self._loss(fake, real)


def build_objective(name: str, clip_value: float = 0.01) -> Objective:
    cls = OBJECTIVES.get(name)
    if issubclass(cls, Wasserstein):
        return cls(clip_value=clip_value)
    return cls()
