"""Probes: importing this package registers every built-in probe in :data:`PROBES`.

Each probe is a package ``robaudit/probes/<name>/`` with ``probe.py`` (maths and registration),
``render.py`` (figures, Markdown, summary rows) and ``section.py`` (its report model).
"""

from __future__ import annotations

import importlib

from robaudit.probes.base import PROBES, GridCell, Probe, ProbeContext, ProbeResult, ResultCache

# Built-in probes register themselves on import, in the suite's order. A new probe is one line.
BUILTIN_PROBE_MODULES = ("hybrid", "adversarial_spectrum", "corruptions", "fourier_heatmap", "bandpass")
for _module in BUILTIN_PROBE_MODULES:
    importlib.import_module(f"robaudit.probes.{_module}")

__all__ = ["PROBES", "GridCell", "Probe", "ProbeContext", "ProbeResult", "ResultCache"]
