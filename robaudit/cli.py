"""The `robaudit` command line: a thin Typer layer over the library (parse, call, print)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from robaudit.errors import RobauditError

app = typer.Typer(
    name="robaudit", no_args_is_help=False, add_completion=False, pretty_exceptions_enable=False,
    help="Audit image classifiers for robustness through the lens of spatial frequency.",
)
err_console = Console(stderr=True)
out_console = Console()

Opt = typer.Option


def _progress_factory(progress: Progress) -> Any:
    def track(items: Iterable[Any], description: str, total: int | None) -> Iterator[Any]:
        yield from progress.track(items, description=description, total=total)

    return track


def parse_set_options(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """['hybrid.seeds=6'] → {'hybrid': {'seeds': 6}}; values parsed as YAML scalars/lists."""
    from robaudit.suite import probe_name

    options: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        probe, dot, field = key.partition(".")
        if not eq or not dot or not field:
            raise RobauditError(f"--set {pair!r} must look like PROBE.SETTING=VALUE, e.g. hybrid.seeds=6")
        options.setdefault(probe_name(probe), {})[field.strip()] = yaml.safe_load(value)
    return options


def collect_probe_options(flags: dict[str, Any], extra: list[str]) -> dict[str, dict[str, Any]]:
    """Map score's probe flags onto Settings fields (only flags the user actually gave)."""
    from robaudit.probes.hybrid import parse_grid

    wanted: dict[str, dict[str, Any]] = {
        "hybrid": {"grid": parse_grid(flags["hybrid_grid"]) if flags["hybrid_grid"] else None,
                   "seeds": flags["hybrid_seeds"]},
        "adversarial_spectrum": {"protocol": flags["protocol"], "norm": flags["norm"],
                                 "targeted": False if flags["untargeted"] else None,
                                 "steps": flags["steps"], "restarts": flags["restarts"]},
        "corruptions": {"corruptions_dir": flags["corruptions_dir"], "grey": flags["grey"] or None},
    }
    options = {probe: {k: v for k, v in fields.items() if v is not None} for probe, fields in wanted.items()}
    if flags["n_images"] is not None:
        for fields in options.values():
            fields["n_images"] = flags["n_images"]
    for probe, fields in parse_set_options(extra).items():
        options.setdefault(probe, {}).update(fields)
    return options


def _only_known_fields(options: dict[str, dict[str, Any]], probes: list[str]) -> dict[str, dict[str, Any]]:
    """Drop shared flags a selected probe does not have (e.g. --n-images on a probe without it);
    explicit --set values are validated strictly by the suite."""
    import dataclasses

    from robaudit.probes import PROBES

    kept = {}
    for name, fields in options.items():
        if name not in PROBES or name not in probes:
            continue
        valid = {f.name for f in dataclasses.fields(PROBES.get(name).Settings)}
        kept[name] = {k: v for k, v in fields.items() if k in valid}
    return kept


@app.command()
def score(
    model: Annotated[str, Opt("--model", "-m", help="PREFIX:NAME, e.g. timm:resnet18, file:ckpt.pt")] = "embedded:cnn",
    data: Annotated[str, Opt("--data", "-d", help="cifar10, imagenet, folder:P, npz:P, embedded...")] = "embedded",
    probes: Annotated[str | None, Opt(help="comma-separated probes (default: all)")] = None,
    out: Annotated[Path, Opt("--out", "-o", help="report folder")] = Path("robaudit-report"),
    seed: Annotated[int, Opt(help="drives every random choice")] = 0,
    device: Annotated[str, Opt(help="auto, cpu or cuda[:N]")] = "auto",
    batch_size: Annotated[int, Opt(min=1)] = 256,
    data_dir: Annotated[Path | None, Opt(help="folder holding the dataset's official files")] = None,
    split: Annotated[str, Opt(help="dataset split")] = "test",
    download: Annotated[bool, Opt(help="allow downloading the dataset")] = False,
    weights: Annotated[str | None, Opt(help="local state dict (or torchvision weights enum name)")] = None,
    model_dir: Annotated[Path | None, Opt(help="RobustBench checkpoints: DIR/<dataset>/<threat>/<name>.pt")] = None,
    n_images: Annotated[int | None, Opt(min=1, help="images per probe")] = None,
    hybrid_grid: Annotated[str | None, Opt(help="paper | extended | uniform:N | list (Nyquist fractions)")] = None,
    hybrid_seeds: Annotated[int | None, Opt(min=1, help="pairing seeds S")] = None,
    protocol: Annotated[str | None, Opt(help="adversarial protocol: fast, standard, paper")] = None,
    norm: Annotated[str | None, Opt(help="adversarial norm: linf or l2")] = None,
    untargeted: Annotated[bool, Opt(help="untargeted adversarial search")] = False,
    steps: Annotated[int | None, Opt(min=1, help="adversarial: steps per min-norm attack")] = None,
    restarts: Annotated[int | None, Opt(min=1, help="adversarial: restarts (overrides the preset)")] = None,
    corruptions_dir: Annotated[str | None, Opt(help="CIFAR-10-C / ImageNet-C folder")] = None,
    grey: Annotated[bool, Opt(help="evaluate corruptions on greyscale images")] = False,
    set_: Annotated[list[str] | None, Opt("--set", help="PROBE.SETTING=VALUE (repeatable)")] = None,
    policy: Annotated[Path | None, Opt(help="apply a policy file to the report")] = None,
    junit: Annotated[Path | None, Opt(help="write the policy result as JUnit XML")] = None,
    cache: Annotated[bool, Opt(help="reuse/save partial results in OUT/.robaudit-cache")] = True,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="no progress or tables")] = False,
    json_out: Annotated[bool, Opt("--json", help="print the report JSON on stdout")] = False,
) -> None:
    """Run the audit suite on a model and write the report card."""
    from robaudit.data import DEFAULT_DATASET
    from robaudit.models import DEFAULT_MODEL
    from robaudit.suite import SuiteConfig, probe_name, run_suite

    selected = [probe_name(p) for p in probes.split(",")] if probes else None
    from robaudit.probes import PROBES

    options = collect_probe_options(locals(), set_ or [])
    if model == DEFAULT_MODEL and data == DEFAULT_DATASET and protocol is None:
        # The zero-argument demo must stay a quick smoke run on a CPU: use the cheap attack preset.
        options.setdefault("adversarial_spectrum", {}).setdefault("protocol", "fast")
    explicit = parse_set_options(set_ or [])
    options = _only_known_fields(options, selected or PROBES.names())
    for name, fields in explicit.items():
        options.setdefault(name, {}).update(fields)
    rules = None
    if policy:
        from robaudit.policy import load_policy

        rules = load_policy(policy)  # bad policy fails before any work
    config = SuiteConfig(
        model=model, data=data, probes=selected, out=out, seed=seed, device=device,
        batch_size=batch_size, split=split, data_dir=data_dir, download=download, weights=weights,
        model_dir=model_dir, probe_options=options, cache=cache, command=" ".join(["robaudit", *sys.argv[1:]]),
    )
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console, disable=quiet or json_out, transient=True) as bar:
        report = run_suite(config, progress=_progress_factory(bar))
    policy_result = None
    if rules is not None:
        policy_result = _apply_policy(report, rules, out / "report.json", junit)
    if json_out:
        print(json.dumps(report, indent=2))
    elif not quiet:
        _print_summary(report, out)
        if policy_result:
            _print_policy(policy_result)
    if policy_result and not policy_result["passed"]:
        raise typer.Exit(1)


def _apply_policy(report: dict[str, Any], rules: Any, report_path: Path, junit: Path | None) -> dict[str, Any]:
    from robaudit.policy import evaluate, write_junit
    from robaudit.report import policy_markdown

    result = evaluate(report, rules)
    report["policy"] = result
    report_path.write_text(json.dumps(report, indent=2))
    md = report_path.with_name("report.md")
    md.write_text(md.read_text() + "\n" + policy_markdown(result) + "\n")
    if junit:
        write_junit(result, junit)
    return result


def _print_summary(report: dict[str, Any], out: Path) -> None:
    from robaudit.probes import PROBES
    from robaudit.probes.base import ProbeResult

    table = Table(title=f"robaudit: {report['model']['spec']} on {report['data']['spec']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, metrics in report["probes"].items():
        result = ProbeResult(name, report["config"]["probe_settings"][name], metrics)
        for metric, value in PROBES.get(name)().summary_rows(result):
            table.add_row(metric, value)
    timings = report["provenance"]["timings"]
    table.add_row("time (s)", f"{timings['total_seconds']:.1f}")
    out_console.print(table)
    out_console.print(f"report card: {out / 'report.md'} and {out / 'report.json'}")


def _print_policy(result: dict[str, Any]) -> None:
    table = Table(title=f"policy: {'PASS' if result['passed'] else 'FAIL'}")
    for column in ("metric", "value", "rule", "result"):
        table.add_column(column)
    for row in result["rules"]:
        value = "null" if row["value"] is None else f"{row['value']:.4g}"
        verdict = "[green]pass" if row["passed"] else f"[red]FAIL[/] {row['reason']}"
        table.add_row(row["metric"], value, row["rule"], verdict)
    out_console.print(table)


@app.command()
def check(
    report: Annotated[Path, typer.Argument(help="report.json from robaudit score")],
    policy: Annotated[Path, Opt(help="YAML policy with rules of metric + min/max")],
    junit: Annotated[Path | None, Opt(help="also write JUnit XML here")] = None,
    quiet: Annotated[bool, Opt("--quiet", "-q")] = False,
    json_out: Annotated[bool, Opt("--json", help="print the result as JSON")] = False,
) -> None:
    """Apply a policy's thresholds to a report: exit 0 pass, 1 fail, 2 bad input."""
    from robaudit.policy import evaluate, load_policy, load_report, write_junit

    result = evaluate(load_report(report), load_policy(policy))
    if junit:
        write_junit(result, junit)
    if json_out:
        print(json.dumps(result, indent=2))
    elif not quiet:
        _print_policy(result)
    if not result["passed"]:
        raise typer.Exit(1)


@app.command()
def models(
    pattern: Annotated[str, typer.Argument(help="glob or substring")] = "*",
    source: Annotated[str | None, Opt(help="only this source")] = None,
    json_out: Annotated[bool, Opt("--json")] = False,
) -> None:
    """List what each model source offers (timm, torchvision, RobustBench zoo, ...)."""
    from robaudit.models import MODEL_SOURCES, list_models

    if source:
        MODEL_SOURCES.get(source)
    listing = list_models(pattern, source)
    if json_out:
        print(json.dumps(listing, indent=2))
        return
    for prefix, names in listing.items():
        description = MODEL_SOURCES.get(prefix).description
        out_console.print(f"[bold]{prefix}:[/] {description} — {len(names)} match(es)")
        for name in names:
            out_console.print(f"  {prefix}:{name}")


@app.command()
def datasets() -> None:
    """List the dataset sources."""
    from robaudit.data import DATASETS

    for name in DATASETS.names():
        out_console.print(f"[bold]{name}[/]: {DATASETS.get(name).description}")


@app.command(name="probes")
def list_probes() -> None:
    """List the probes and their settings."""
    import dataclasses

    from robaudit.probes import PROBES

    for name in PROBES.names():
        fields = ", ".join(f.name for f in dataclasses.fields(PROBES.get(name).Settings))
        out_console.print(f"[bold]{name}[/]: settings {fields}")


def _register_subcommands() -> None:
    """Commands whose options live next to their library code (robaudit/commands/)."""
    from robaudit.commands import compare, corrupt, train_reference

    app.command("corrupt")(corrupt.command)
    app.command("train-reference")(train_reference.command)
    app.command("compare")(compare.command)
    from robaudit.commands import sweep
    app.command("sweep")(sweep.command)


_register_subcommands()


def main(argv: list[str] | None = None) -> int:
    """Entry point: RobauditError → one line on stderr, exit 2; no tracebacks for user errors."""
    try:
        app(args=argv)  # standalone mode: exits itself for usage errors and typer.Exit
    except RobauditError as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except SystemExit as exc:  # typer's standalone mode ends every run with SystemExit
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        err_console.print("interrupted: partial results are saved; run the same command again to resume")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
