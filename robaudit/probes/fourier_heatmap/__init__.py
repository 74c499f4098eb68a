"""The fourier_heatmap probe: error rate under a perturbation along each Fourier basis image."""

from robaudit.probes.fourier_heatmap.probe import FourierHeatmapProbe, FourierHeatmapSettings

__all__ = ["FourierHeatmapProbe", "FourierHeatmapSettings"]
