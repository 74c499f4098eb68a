"""The one plotting module: every report figure is made and saved here.

Figures are drawn on matplotlib's Agg canvas (``FigureCanvasAgg``) without pyplot, so plotting
needs no display, never changes the process-wide backend of a user's notebook, and leaves no
open figure behind. One style (:data:`STYLE`) is in force while a figure is drawn and saved
(``with plotting.figure(path, w, h) as (fig, ax): ...``). Saving uses ``bbox_inches="tight"``,
so titles, legends outside the axes and colour-bar labels are inside the saved image, and goes
through :mod:`robaudit.atomic` (no torn PNG, no write through a planted symlink).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from robaudit.atomic import atomic_write_with

DPI = 120
STYLE: Any = {  # matplotlib rcParams
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 7,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.grid": False,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "image.cmap": "viridis",
}
PAD_INCHES = 0.08


@contextmanager
def figure(path: Path, width: float, height: float) -> Iterator[tuple[Figure, Axes]]:
    """A figure of ``width`` × ``height`` inches with one axes, drawn in the report style inside
    the ``with`` block and saved to ``path`` as PNG when the block ends without error."""
    with rc_context(STYLE):
        fig = Figure(figsize=(width, height), dpi=DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        yield fig, ax
        save(fig, path)


def save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as PNG to ``path`` with a tight bounding box (nothing clipped), then free it."""
    with rc_context(STYLE):
        atomic_write_with(path, lambda handle: fig.savefig(
            handle, format="png", dpi=DPI, bbox_inches="tight", pad_inches=PAD_INCHES))
    fig.clear()
    return path
