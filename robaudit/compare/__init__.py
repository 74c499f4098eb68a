"""Leaderboard of many audited models: read sweep or score folders, write CSV/JSON/MD/HTML and figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_leaderboard(sources: list[Path], out: Path, *, baseline: str | None = None,
                      model_info: Path | None = None, allow_mixed: bool = False) -> dict[str, Any]:
    """Build the leaderboard of the reports under `sources` and write it into `out`; returns its dict."""
    from robaudit.compare.build import build_and_write

    return build_and_write(sources, out, baseline=baseline, model_info=model_info, allow_mixed=allow_mixed)


__all__ = ["write_leaderboard"]
