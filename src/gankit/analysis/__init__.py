"""Analysis: the GAN papers' explanatory figures as functions (and ``gankit analyze`` commands).

theory        D* and V(G, D*) = 2 JSD - log 4 on 1-D densities (Goodfellow et al. 2014, Sec. 4)
saturation    minimax vs non-saturating generator gradients (Sec. 3)
toy1d         the 1-D training animation (Fig. 1)
latent        lerp / slerp interpolation, class grids, vector arithmetic (Radford et al. 2016)
memorization  nearest training images of samples (Fig. 2)
collapse      a Trainer callback recording samples over training (mode collapse)
"""
from .collapse import CollapseRecorder
from .latent import arithmetic, class_grid, group_mean, lerp, slerp, vector_arithmetic
from .memorization import memorization_check, nearest_neighbours
from .saturation import GradNormRecorder, compare_objectives, saturation_curves
from .theory import (PAIRS, Mixture1D, discriminator_error, fit_discriminator, game_value, gaussian,
                     jensen_shannon, optimal_discriminator)

__all__ = ["CollapseRecorder", "arithmetic", "class_grid", "group_mean", "lerp", "slerp", "vector_arithmetic",
           "memorization_check", "nearest_neighbours", "GradNormRecorder", "compare_objectives",
           "saturation_curves", "PAIRS", "Mixture1D", "discriminator_error", "fit_discriminator", "game_value",
           "gaussian", "jensen_shannon", "optimal_discriminator"]
