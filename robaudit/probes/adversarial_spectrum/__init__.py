"""Adversarial-spectrum probe: verified minimal perturbations and f_0.5 (docs/adversarial_spectrum.md)."""

from robaudit.probes.adversarial_spectrum.probe import (
    AdversarialSettings,
    AdversarialSpectrumProbe,
    draw_targets,
    select_images,
)

__all__ = ["AdversarialSettings", "AdversarialSpectrumProbe", "draw_targets", "select_images"]
