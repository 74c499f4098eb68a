"""Probes: importing this package registers every built-in probe in :data:`PROBES`."""

from __future__ import annotations

import importlib

from robaudit.probes.base import PROBES, Probe, ProbeContext, ProbeResult, ResultCache

# Built-in probes register themselves on import. Listed by module so a new probe is one line.
BUILTIN_PROBE_MODULES = ("hybrid", "corruptions", "adversarial", "fourier_heatmap", "bandpass")
for _module in BUILTIN_PROBE_MODULES:
    importlib.import_module(f"robaudit.probes.{_module}")

__all__ = ["PROBES", "Probe", "ProbeContext", "ProbeResult", "ResultCache"]
