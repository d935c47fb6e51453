"""Regularisers usable with any objective (spectral norm lives with the models).

``gradient_penalty`` and ``r1_penalty`` compute the unweighted penalties. What a game composes are
the ``Regularizer`` classes below, one small class per term, registered by name in ``REGULARIZERS``
and built from the config by ``build_regularizers``: the gradient penalty (``gp``), R1 (``r1``) and
AC-GAN's class term (``ac``). A regulariser declares what D's forward pass must prepare for it
(``needs_real_grad``: the data batch requires grad, as R1 differentiates D's output w.r.t. it; ``due``:
at which D steps, for lazy regularisation) and
returns its *weighted* D term and, where it has one, its G term. Another penalty (R2: R1 on the
fakes, ``needs_fake_grad``) is one more registered class; the game does not change.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..registry import Registry
from .objectives import OBJECTIVES

Critic = Callable[[Tensor], Tensor]  # x -> source logits, shape (B,)

REGULARIZERS: Registry[type["Regularizer"]] = Registry("regulariser")


def gradient_penalty(critic: Critic, real: Tensor, fake: Tensor, eps: Tensor | None = None) -> Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017, Eq. 3): E[(||grad_x D(x_hat)||_2 - 1)^2]
    with x_hat = real + eps (fake - real), eps ~ U[0, 1] per sample. Unweighted."""
    if eps is None:
        eps = torch.rand(real.shape[0], device=real.device)
    eps = eps.to(real.dtype).view((-1,) + (1,) * (real.dim() - 1))
    x_hat = torch.lerp(real.detach(), fake.detach(), eps).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).square().mean()


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018, Eq. 9) without the gamma/2 factor: E[||grad_x D(x)||^2]
    on real data. ``real`` must have had ``requires_grad_()`` before D's forward pass."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.flatten(1).square().sum(1).mean()


def effective_gp_weight(loss: str, gp_weight: float | None = None) -> float:
    """The gradient-penalty lambda a run uses: ``gp_weight`` when set (0 = off), else the default
    of the objective named ``loss`` (10 for ``wgan-gp``, Gulrajani et al. 2017; 0 for the others)."""
    return OBJECTIVES.get(loss).default_gp_weight if gp_weight is None else gp_weight


# ---------------------------------------------------------------------- what the terms see
@dataclass
class DiscriminatorPass:
    """One discriminator step, as the regularisers' D terms see it."""

    real: Tensor              # the data batch (unpacked); requires grad when a regulariser needs it
    fake: Tensor              # G's samples (unpacked, detached); likewise
    y_real: Tensor | None     # labels of the data (conditional models), else None
    y_fake: Tensor | None     # labels the fakes were generated for
    real_out: Any             # D's outputs: source logits, or (source, class logits) for AC-GAN
    fake_out: Any
    real_logits: Tensor       # source logits, float32
    fake_logits: Tensor
    d_input: Callable[[Tensor], Tensor]                  # a batch as D sees it (PacGAN packing)
    critic: Callable[[Tensor, Tensor | None], Tensor]    # (D input, labels) -> source logits, for own passes
    uniform: Callable[[], Tensor]  # one U[0, 1) draw per D input of the global batch: this rank's share
    step: int = 0             # the game's discriminator steps before this one (lazy regularisation)


@dataclass
class GeneratorPass:
    """One generator step, as the regularisers' G terms see it."""

    fake: Tensor              # G's samples, with G's graph
    y_fake: Tensor | None
    fake_out: Any             # D's outputs on them
    fake_logits: Tensor       # source logits, float32


class Regularizer:
    """A term added to D's loss (and to G's, where it has one), weighted by its hyper-parameter.

    ``from_config`` builds it, or returns None when the config leaves it off. ``d_term`` and
    ``g_term`` return the weighted term, or None for no term in that step. The game adds the terms
    after the objective's, in the order of the regularisers' names (``ac``, ``gp``, ``r1``).
    """

    #: its name in REGULARIZERS, also the key of its term among the loss terms
    name = ""
    #: the data batch (resp. the fakes) must require grad before D's forward pass
    needs_real_grad = False
    needs_fake_grad = False

    @classmethod
    def from_config(cls, cfg) -> "Regularizer | None":
        raise NotImplementedError

    def due(self, step: int) -> bool:
        """Whether its D term applies at the D step that follows ``step`` earlier ones (so that the game
        prepares ``needs_real_grad`` / ``needs_fake_grad`` only then: lazy penalties skip the input
        gradient on the other steps)."""
        return True

    def d_term(self, d: DiscriminatorPass) -> Tensor | None:
        return None

    def g_term(self, g: GeneratorPass) -> Tensor | None:
        return None


def register(name: str):
    """Register a Regularizer subclass under ``name`` (its ``name`` too)."""
    def deco(cls: type[Regularizer]) -> type[Regularizer]:
        cls.name = name
        return REGULARIZERS.register(name)(cls)

    return deco


@register("ac")
class ACGANClassTerm(Regularizer):
    """AC-GAN (Odena et al. 2017, Eq. 3): D and G both maximise the log-likelihood of the correct
    class, L_C, read off D's class logits. D's L_C covers real and generated samples; with
    ``aux_fake=False`` (``--no-aux-fake``) real ones only, so D's classifier is one of real data.
    Weighted by ``aux_weight``. On for ``--model acgan``, whose D has the class head."""

    def __init__(self, weight: float = 1.0, aux_fake: bool = True):
        self.weight, self.aux_fake = weight, aux_fake

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.aux_weight, cfg.aux_fake) if cfg.model == "acgan" else None

    def d_term(self, d):
        l_c = F.cross_entropy(d.real_out[1].float(), d.y_real)
        if self.aux_fake:
            l_c = l_c + F.cross_entropy(d.fake_out[1].float(), d.y_fake)
        return self.weight * l_c

    def g_term(self, g):
        return self.weight * F.cross_entropy(g.fake_out[1].float(), g.y_fake)


@register("gp")
class GradientPenalty(Regularizer):
    """WGAN-GP (Gulrajani et al. 2017, Eq. 3): lambda E[(||grad D(x_hat)||_2 - 1)^2] on random
    interpolates of real and fake inputs (as D sees them, packed), eps ~ U[0, 1] drawn for the
    global batch like the noise. lambda = ``effective_gp_weight`` (10 for wgan-gp by default)."""

    def __init__(self, weight: float = 10.0):
        self.weight = weight

    @classmethod
    def from_config(cls, cfg):
        weight = effective_gp_weight(cfg.loss, cfg.gp_weight)
        return cls(weight) if weight > 0 else None

    def d_term(self, d):
        eps = d.uniform()
        return self.weight * gradient_penalty(lambda v: d.critic(v, d.y_real), d.d_input(d.real),
                                              d.d_input(d.fake), eps)


class _ZeroCentredPenalty(Regularizer):
    """gamma/2 E[||grad D||^2] on the real or the generated batch (the fakes as constants), applied every
    ``interval`` D steps and then multiplied by ``interval`` (lazy regularisation, Karras et al. 2020,
    StyleGAN2 Sec. 3.1), so that its average weight stays gamma/2."""

    def __init__(self, gamma: float, interval: int = 1):
        self.gamma, self.interval = gamma, interval

    def penalty(self, d: DiscriminatorPass) -> Tensor:
        raise NotImplementedError

    def due(self, step: int) -> bool:
        return step % self.interval == 0

    def d_term(self, d):
        if not self.due(d.step):
            return None
        term = self.gamma / 2 * self.penalty(d)
        return term * self.interval if self.interval > 1 else term


@register("r1")
class R1Penalty(_ZeroCentredPenalty):
    """R1 (Mescheder et al. 2018, Eq. 9): gamma/2 E[||grad_x D(x)||^2] on real data, with
    gamma = ``r1_gamma``, every ``reg_interval`` D steps (lazy). The gradient is taken w.r.t. the data
    batch itself, which must require grad before D's forward pass."""

    needs_real_grad = True

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.r1_gamma, cfg.reg_interval) if cfg.r1_gamma > 0 else None

    def penalty(self, d):
        return r1_penalty(d.real_logits, d.real)


@register("r2")
class R2Penalty(_ZeroCentredPenalty):
    """R2 (Mescheder et al. 2018, Eq. 10; with R1 the R3GAN regulariser, Huang et al. 2024, Eq. 3):
    gamma/2 E[||grad_x D(x)||^2] on generated samples x = G(z), with gamma = ``r2_gamma``, every
    ``reg_interval`` D steps (lazy). The gradient is w.r.t. the (detached) fake batch."""

    needs_fake_grad = True

    @classmethod
    def from_config(cls, cfg):
        return cls(cfg.r2_gamma, cfg.reg_interval) if cfg.r2_gamma > 0 else None

    def penalty(self, d):
        return r1_penalty(d.fake_logits, d.fake)


def build_regularizers(cfg) -> list[Regularizer]:
    """The regularisers the config turns on, in name order (the order their terms are added)."""
    built = (REGULARIZERS.get(name).from_config(cfg) for name in REGULARIZERS.names())
    return [r for r in built if r is not None]
