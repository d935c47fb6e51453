"""Objectives (chosen by name) and regularisers (composed by name)."""
from .objectives import OBJECTIVES, Objective, build_objective
from .regularizers import (REGULARIZERS, ACGANClassTerm, DiscriminatorPass, GeneratorPass, GradientPenalty,
                           R1Penalty, Regularizer, build_regularizers, effective_gp_weight, gradient_penalty,
                           r1_penalty)

__all__ = ["OBJECTIVES", "Objective", "build_objective", "gradient_penalty", "r1_penalty", "REGULARIZERS",
           "Regularizer", "ACGANClassTerm", "GradientPenalty", "R1Penalty", "DiscriminatorPass", "GeneratorPass",
           "build_regularizers", "effective_gp_weight"]
