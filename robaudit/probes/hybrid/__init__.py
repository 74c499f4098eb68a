"""Hybrid-image probe: the reversal frequency f_rev (docs/metrics.md, docs/hybrid.md)."""

from robaudit.probes.hybrid.probe import HybridProbe, HybridSettings, hybrid_pairs, parse_grid

__all__ = ["HybridProbe", "HybridSettings", "hybrid_pairs", "parse_grid"]
