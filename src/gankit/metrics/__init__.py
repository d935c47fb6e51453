"""Evaluation: feature extractors and the metrics computed from their features."""
from .frechet import feature_statistics, fid_from_features, frechet_distance
from .inception_score import inception_score
from .kid import kernel_inception_distance, polynomial_mmd2
from .modes import class_distribution_kl, class_kl_to_target, count_modes, toy_mode_metrics
from .prdc import density_coverage, prdc, precision_recall

__all__ = ["frechet_distance", "feature_statistics", "fid_from_features", "kernel_inception_distance",
           "polynomial_mmd2", "inception_score", "precision_recall", "density_coverage", "prdc",
           "toy_mode_metrics", "class_distribution_kl", "count_modes", "class_kl_to_target"]
