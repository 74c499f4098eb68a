"""The corruption probe's report section (report["probes"]["corruptions"]) as a typed model."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from robaudit.report_model import Section, metric

Accuracy = Annotated[float, Field(ge=0.0, le=1.0)]


def _accuracy(label: str, default: Any = ..., direction: str | None = "higher", column: str | None = None) -> Any:
    return metric(default, unit="fraction", label=label, direction=direction, ge=0.0, le=1.0,  # type: ignore[arg-type]
                  column=column)


class ParameterTable(Section):
    """The published parameter table used to generate corruptions, and the pixel-length scale."""

    reference_size: int = metric(unit="pixels", label="reference image size of the table", ge=1)
    scale: float = metric(unit="ratio", label="pixel-length scale (image size / reference)", ge=0.0)


class CategoryMean(Section):
    """Mean accuracy per frequency category (null where none of its corruptions ran)."""

    low: float | None = _accuracy("low-frequency corruptions mean accuracy", None, column="corruption_acc_low")
    mid: float | None = _accuracy("mid-frequency corruptions mean accuracy", None, column="corruption_acc_mid")
    high: float | None = _accuracy("high-frequency corruptions mean accuracy", None, column="corruption_acc_high")


class NoiseSweep(Section):
    std: list[Annotated[float, Field(ge=0.0, le=1.0)]]
    accuracy: list[Accuracy]


class RelativeError(Section):
    """Corruption errors against a baseline report (Hendrycks & Dietterich 2019)."""

    ce: dict[str, Annotated[float, Field(ge=0.0)] | None]
    mce: float | None = metric(None, unit="ratio", label="mCE vs baseline", direction="lower", ge=0.0)
    relative_ce: dict[str, float | None]
    relative_mce: float | None = metric(None, unit="ratio", label="relative mCE vs baseline", direction="lower")
    baseline_clean_accuracy: float = _accuracy("baseline clean accuracy", direction=None)
    missing: list[str]
    baseline: str


class CorruptionMetrics(Section):
    """report["probes"]["corruptions"]: accuracy per corruption × severity and its means."""

    source: str
    parameter_table: ParameterTable | None
    corruptions: list[str]
    severities: list[Annotated[int, Field(ge=1, le=5)]]
    grey: bool
    n_images: int = metric(unit="count", label="images per corruption and severity", ge=0)
    n_clean_images: int = metric(unit="count", label="clean images", ge=0)
    clean_accuracy: float = _accuracy("clean accuracy")
    accuracy: dict[str, dict[str, Accuracy]]
    corruption_mean: dict[str, Accuracy | None]
    category_mean: CategoryMean
    severity_mean: dict[str, Accuracy | None]
    overall_mean: float | None = _accuracy("mean accuracy over corruptions and severities", None,
                                           column="corruption_acc")
    verdict_refused: bool = metric(False, unit="bool", label="no verdict: model at chance or constant",
                                   direction="lower")
    refusal: str | None = None  # why, when verdict_refused (the means above are then null)
    noise_sweep: NoiseSweep
    relative_error: RelativeError | None = None
