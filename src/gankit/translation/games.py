"""The pix2pix and CycleGAN games on gankit's one trainer.

The trainer owns optimisation (one optimiser over ``G``'s parameters, one over ``D``'s, AMP, EMA,
DDP, checkpoints); a game, built with the networks, the objective and its loss weights, turns the
batch ``(a, b)`` into the named terms of the two losses. The adversarial terms come from the
objective (``--loss``): the papers use the non-saturating GAN loss for pix2pix and least squares
(``--loss lsgan``) for CycleGAN. As in both papers, D's objective is halved.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..models.layers import evaluating
from ..training.games import Game, same


def l1(x: Tensor, y: Tensor) -> Tensor:
    return (x.float() - y.float()).abs().mean()


class TranslationGame(Game):
    """Shared bookkeeping: the loss terms of the latest step (``last``, detached, on the device,
    unweighted) and their running means since the last ``scalars()`` call (one host sync there)."""

    needs_pairs = True
    #: the config fields the constructor takes (the game's loss weights), by name
    config_fields: tuple[str, ...] = ()

    def __init__(self, G, D, objective, **modules):
        super().__init__(G, D, objective, **modules)
        self.last: dict[str, Tensor] = {}
        self._sums: dict[str, Tensor] = {}
        self._counts: dict[str, int] = {}

    @classmethod
    def from_config(cls, cfg, *, part=same, device=None, **modules):
        """No noise to draw: ``part`` and ``device`` are not needed."""
        return cls(**modules, **{name: getattr(cfg, name) for name in cls.config_fields})

    def record(self, **terms: Tensor) -> None:
        for k, v in terms.items():
            v = v.detach()
            self.last[k] = v
            self._sums[k] = self._sums.get(k, 0) + v
            self._counts[k] = self._counts.get(k, 0) + 1

    def scalars(self) -> dict[str, float]:
        """Mean of each loss term since the previous call, e.g. {'cycle': 0.12, ...}."""
        out = {k: float(s) / self._counts[k] for k, s in self._sums.items()}
        self._sums, self._counts = {}, {}
        return out

    def state_dict(self) -> dict:
        """The loss-term sums since the last log row (so that a resumed run logs what an unbroken one does)."""
        return {"sums": {k: v.cpu() for k, v in self._sums.items()}, "counts": dict(self._counts)}

    def load_state_dict(self, state: dict) -> None:
        device = next(self.G.parameters()).device
        self._sums = {k: v.to(device) for k, v in state.get("sums", {}).items()}
        self._counts = dict(state.get("counts", {}))

    @staticmethod
    def preview_batch(data, G, k: int):
        """The first ``k`` pairs of ``data``, on the device of ``G``."""
        return data.batch(torch.arange(min(k, len(data))), next(G.parameters()).device)


class Pix2PixGame(TranslationGame):
    """Isola et al. 2017, Eq. 4: G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G).

    D(a, b) judges (input, output) pairs patch by patch (Eq. 1, the conditional GAN); G is also
    pulled towards the ground truth by the L1 distance (Eq. 3), weighted by ``l1_weight`` (100).
    There is no z: the noise is the dropout of G's decoder.
    """

    config_fields = ("l1_weight",)

    def __init__(self, G, D, objective, *, l1_weight: float = 100.0, **modules):
        super().__init__(G, D, objective, **modules)
        self.l1_weight = l1_weight

    def d_loss(self, batch):
        a, b = (self.inputs(v) for v in batch)
        with torch.no_grad(), self.autocast():
            fake = self.G(a).float()
        with self.autocast():
            real_logits, fake_logits = self.D_train(b, a).float(), self.D_train(fake, a).float()
        loss = 0.5 * self.objective.d_loss(real_logits, fake_logits)
        self.record(d_adv=loss)
        d_out = self.objective.d_output
        return {"adv": loss}, d_out(real_logits.detach()).mean(), d_out(fake_logits.detach()).mean()

    def g_loss(self, batch):
        a, b = (self.inputs(v) for v in batch)
        with self.autocast():
            fake = self.G_train(a)
            adv = self.objective.g_loss(self.D(fake, a).float())
        rec = l1(fake, b)
        self.record(g_adv=adv, l1=rec)
        return {"adv": adv, "l1": self.l1_weight * rec}

    @torch.no_grad()
    def preview(self, G, data, z=None, y=None):
        """Rows of two triplets: input a | G(a) | ground truth b."""
        a, b = self.preview_batch(data, G, 12)
        with evaluating(G):
            fake = G(a).float()
        return torch.stack([a, fake, b], 1).flatten(0, 1), {}


class ImagePool:
    """The history of generated images (Shrivastava et al. 2017, Sec. 2.3; Zhu et al. 2017, Sec. 4):
    D is updated with images from a buffer of the last ``size`` fakes, not only the newest ones.

    For each new image: while the buffer fills, store and return it; after that, with probability
    1/2 return a random stored image and put the new one in its place, else return the new one.
    The coin flips come from torch's global generator, which checkpoints save.
    """

    def __init__(self, size: int):
        self.size, self.count = int(size), 0
        self.images: Tensor | None = None

    def query(self, fake: Tensor) -> Tensor:
        if self.size == 0:
            return fake
        fake = fake.detach()
        if self.images is None:
            self.images = fake.new_empty((self.size, *fake.shape[1:]))
        elif self.images.device != fake.device or self.images.dtype != fake.dtype:
            self.images = self.images.to(fake.device, fake.dtype)
        coins, slots = torch.rand(len(fake)).tolist(), torch.randint(self.size, (len(fake),)).tolist()
        out = []
        for img, coin, slot in zip(fake, coins, slots):
            if self.count < self.size:
                self.images[self.count] = img
                self.count += 1
                out.append(img)
            elif coin < 0.5:
                out.append(self.images[slot].clone())
                self.images[slot] = img
            else:
                out.append(img)
        return torch.stack(out)

    def state_dict(self) -> dict:
        stored = self.images[:self.count] if self.images is not None else torch.empty(0)
        return {"images": stored.detach().cpu().clone(), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        images = state["images"][:self.size]
        self.count = len(images) if self.size else 0
        self.images = None
        if self.count:
            self.images = images.new_empty((self.size, *images.shape[1:]))
            self.images[:self.count] = images


class CycleGANGame(TranslationGame):
    """Zhu et al. 2017, Eq. 3 (+ the identity loss of Sec. 5.2):

    L(G, F, D_A, D_B) = L_GAN(G, D_B) + L_GAN(F, D_A) + lambda (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)
                        + lambda lambda_idt (|G(b) - b|_1 + |F(a) - a|_1)

    with G = ``g_ab``, F = ``g_ba``, lambda = ``cycle_weight`` (10), lambda_idt = ``identity_weight``
    (0.5). D_A and D_B are updated on fakes drawn through an image history (``pool_size`` 50).
    The pools are game state: ``state_dict()`` / ``load_state_dict()`` carry them across resumes.
    """

    config_fields = ("cycle_weight", "identity_weight", "pool_size")

    def __init__(self, G, D, objective, *, cycle_weight: float = 10.0, identity_weight: float = 0.5,
                 pool_size: int = 50, **modules):
        super().__init__(G, D, objective, **modules)
        self.cycle_weight, self.identity_weight, self.pool_size = cycle_weight, identity_weight, pool_size
        self.pool_a, self.pool_b = ImagePool(pool_size), ImagePool(pool_size)

    def d_loss(self, batch):
        a, b = (self.inputs(v) for v in batch)
        with torch.no_grad(), self.autocast():
            fake_b, fake_a = self.G["g_ab"](a).float(), self.G["g_ba"](b).float()
        fake_a, fake_b = self.inputs(self.pool_a.query(fake_a)), self.inputs(self.pool_b.query(fake_b))
        with self.autocast():  # one call for both (DDP); instance norm keeps real and fake independent
            out_a, out_b = self.D_train(torch.cat([a, fake_a]), torch.cat([b, fake_b]))
        real_a, fk_a = out_a.float().split([len(a), len(fake_a)])
        real_b, fk_b = out_b.float().split([len(b), len(fake_b)])
        loss_a, loss_b = 0.5 * self.objective.d_loss(real_a, fk_a), 0.5 * self.objective.d_loss(real_b, fk_b)
        self.record(d_a=loss_a, d_b=loss_b)
        d_out = self.objective.d_output
        real = torch.cat([d_out(real_a.detach()).flatten(), d_out(real_b.detach()).flatten()]).mean()
        fake = torch.cat([d_out(fk_a.detach()).flatten(), d_out(fk_b.detach()).flatten()]).mean()
        return {"d_a": loss_a, "d_b": loss_b}, real, fake

    def g_loss(self, batch):
        a, b = (self.inputs(v) for v in batch)
        lam, lam_idt = self.cycle_weight, self.identity_weight
        with self.autocast():
            out = self.G_train(a, b, identity=lam_idt > 0)
            logits_a, logits_b = self.D(out["fake_a"], out["fake_b"])
        adv_ab, adv_ba = self.objective.g_loss(logits_b.float()), self.objective.g_loss(logits_a.float())
        cycle = l1(out["rec_a"], a) + l1(out["rec_b"], b)
        unweighted = {"g_ab": adv_ab, "g_ba": adv_ba, "cycle": cycle}
        terms = {"g_ab": adv_ab, "g_ba": adv_ba, "cycle": lam * cycle}
        if lam_idt > 0:
            unweighted["identity"] = l1(out["idt_a"], a) + l1(out["idt_b"], b)
            terms["identity"] = lam * lam_idt * unweighted["identity"]
        self.record(**unweighted)
        return terms

    @torch.no_grad()
    def preview(self, G, data, z=None, y=None):
        """Rows: a | G(a) | F(G(a)) | b | F(b) | G(F(b))."""
        a, b = self.preview_batch(data, G, 6)
        with evaluating(G):
            out = G(a, b, identity=False)
        tiles = [a, out["fake_b"], out["rec_a"], b, out["fake_a"], out["rec_b"]]
        return torch.stack([x.float() for x in tiles], 1).flatten(0, 1), {}

    def state_dict(self) -> dict:
        return {"pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.pool_a, self.pool_b = ImagePool(self.pool_size), ImagePool(self.pool_size)
        if state:  # a checkpoint taken before the first step holds none
            self.pool_a.load_state_dict(state["pool_a"])
            self.pool_b.load_state_dict(state["pool_b"])
