"""The `robaudit` command line: a thin Typer layer over the library (parse, call, print)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from robaudit.cli_options import messages_on_stderr
from robaudit.errors import RobauditError
from robaudit.robustbench_import import filter_known_library_warnings


def build_app() -> typer.Typer:
    """The command tree, built when called so that every registered probe's flags are current."""
    from robaudit.cli_options import with_parameters
    from robaudit.commands import compare, corrupt, listing, sweep, train_reference

    tree = typer.Typer(
        name="robaudit", no_args_is_help=False, add_completion=False, pretty_exceptions_enable=False,
        help="Audit image classifiers for robustness through the lens of spatial frequency.",
    )
    tree.command("score")(with_parameters(score, _score_parameters()))
    tree.command("check")(check)
    tree.command("models")(listing.models)
    tree.command("datasets")(listing.datasets)
    tree.command("probes")(listing.probes)
    tree.command("corrupt")(corrupt.command)
    tree.command("train-reference")(train_reference.command)
    tree.command("sweep")(sweep.command)
    tree.command("compare")(compare.command)
    return tree

err_console = Console(stderr=True)
out_console = Console()

Opt = typer.Option


def _progress_factory(progress: Progress) -> Any:
    def track(items: Iterable[Any], description: str, total: int | None) -> Iterator[Any]:
        yield from progress.track(items, description=description, total=total)

    return track


def _score_parameters() -> list[Any]:
    """score's option flags: the suite's options and every probe setting that declares a flag
    (one flag for a setting several probes share, e.g. --n-images), all from settings metadata."""
    import dataclasses

    from robaudit.cli_options import typer_parameters
    from robaudit.config import SettingInfo, settings_info
    from robaudit.probes import PROBES
    from robaudit.suite_config import SuiteConfig

    infos: dict[str, SettingInfo] = {i.name: i for i in settings_info(SuiteConfig) if i.flag}
    for name in PROBES.names():
        for info in settings_info(PROBES.get(name).Settings):
            key = (info.flag or "").replace("-", "_")
            if info.flag and key not in infos:
                infos[key] = dataclasses.replace(info, name=key, help=f"{name}: {info.help}")
    return typer_parameters(list(infos.values()))


def score(
    *,
    preset: Annotated[str | None, Opt(help="named preset (default: demo when no --model and --data are given)")]
    = None,
    set_: Annotated[list[str] | None, Opt("--set", help="PROBE.SETTING=VALUE (repeatable)")] = None,
    policy: Annotated[Path | None, Opt(help="apply a policy file to the report")] = None,
    junit: Annotated[Path | None, Opt(help="write the policy result as JUnit XML")] = None,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="no progress or tables")] = False,
    json_out: Annotated[bool, Opt("--json", help="print the report JSON on stdout")] = False,
    **options: Any,
) -> None:
    """Run the audit suite on a model and write the report card."""
    messages_on_stderr(quiet or json_out)
    if junit:
        from robaudit.atomic import check_writable

        check_writable(junit, "--junit")
    try:
        _score(preset, set_ or [], policy, junit, quiet, json_out, options)
    except RobauditError as exc:  # bad input: the JUnit file says so too, as `check` does
        if junit:
            from robaudit.policy import write_junit_error

            write_junit_error(str(exc), junit)
        raise


def _score(preset: str | None, sets: list[str], policy: Path | None, junit: Path | None, quiet: bool,
           json_out: bool, options: dict[str, Any]) -> None:
    from robaudit.cli_options import stdout_for_json_only
    from robaudit.suite import run_suite
    from robaudit.suite_config import assemble_config
    from robaudit.sweep.progress import progress_bar

    if preset is None and options.get("model") is None and options.get("data") is None:
        preset = "demo"
    command = " ".join(["robaudit", *sys.argv[1:]])
    config = assemble_config(options | {"command": command}, sets, preset)
    _ERROR_LOG_DIR[0] = config.out
    rules = None
    if policy:
        from robaudit.policy import check_metrics_exist, load_policy

        rules = load_policy(policy)  # bad policy fails before any work
        check_metrics_exist(rules, config.probe_names())
    with stdout_for_json_only(json_out), progress_bar(err_console, disable=quiet or json_out, transient=True) as bar:
        report = run_suite(config, progress=_progress_factory(bar))
    policy_result = None
    if rules is not None:
        policy_result = _apply_policy(report, rules, config.out / "report.json", junit)
    if json_out:
        print(json.dumps(report, indent=2))
    elif not quiet:
        _print_summary(report, config.out)
    if policy_result:
        _report_policy(policy_result, quiet or json_out)
    if policy_result and not policy_result["passed"]:
        raise typer.Exit(1)


def _apply_policy(report: dict[str, Any], rules: Any, report_path: Path, junit: Path | None) -> dict[str, Any]:
    from robaudit.atomic import atomic_write_text
    from robaudit.policy import evaluate, write_junit
    from robaudit.report import policy_markdown

    result = evaluate(report, rules)
    report["policy"] = result
    atomic_write_text(report_path, json.dumps(report, indent=2, allow_nan=False))
    md = report_path.with_name("report.md")
    atomic_write_text(md, md.read_text() + "\n" + policy_markdown(result) + "\n")
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


def _report_policy(result: dict[str, Any], quiet: bool) -> None:
    """The policy table on stdout (unless quiet); failing rules always reach stderr."""
    if not quiet:
        table = Table(title=f"policy: {'PASS' if result['passed'] else 'FAIL'}")
        for column in ("metric", "value", "rule", "result"):
            table.add_column(column)
        for row in result["rules"]:
            verdict = "[green]pass" if row["passed"] else f"[red]FAIL[/] {row['reason']}"
            table.add_row(row["metric"], _value_text(row), row["rule"], verdict)
        out_console.print(table)
    for row in result["rules"]:
        if not row["passed"]:
            err_console.print(f"policy failed: {row['metric']} = {_value_text(row)}: {row['reason']}",
                              highlight=False, soft_wrap=True)


def _value_text(row: dict[str, Any]) -> str:
    value = row["value"]
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    unit = f" {row['unit']}" if row.get("unit") and row["unit"] not in ("fraction", "bool", "count") else ""
    return f"{value:.4g}{unit}"


def check(
    report: Annotated[Path, typer.Argument(help="report.json from robaudit score")],
    policy: Annotated[Path, Opt(help="YAML policy: rules of metric + min/max/equals/better_than")],
    junit: Annotated[Path | None, Opt(help="also write JUnit XML here (also on bad input)")] = None,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="only failures, on stderr")] = False,
    json_out: Annotated[bool, Opt("--json", help="print the result as JSON")] = False,
) -> None:
    """Apply a policy's thresholds to a report: exit 0 pass, 1 fail, 2 bad input."""
    from robaudit.atomic import check_writable
    from robaudit.policy import evaluate, load_policy, load_report, write_junit, write_junit_error

    if junit:
        check_writable(junit, "--junit")
    try:
        result = evaluate(load_report(report), load_policy(policy))
    except RobauditError as exc:
        if junit:
            write_junit_error(str(exc), junit)
        raise
    if junit:
        write_junit(result, junit)
    if json_out:
        print(json.dumps(result, indent=2))
    _report_policy(result, quiet or json_out)
    if not result["passed"]:
        raise typer.Exit(1)


_ERROR_LOG_DIR: list[Path | None] = [None]  # the report folder of the running command, if known


def _write_traceback(exc: BaseException) -> Path:
    """Save the full traceback of an internal error; returns where (OUT/ or $ROBAUDIT_HOME/)."""
    import tempfile
    import traceback

    from robaudit.atomic import atomic_write_text
    from robaudit.embedded import robaudit_home

    text = "".join(traceback.format_exception(exc))
    for folder in (_ERROR_LOG_DIR[0], robaudit_home()):
        if folder is None:
            continue
        try:
            path = Path(folder) / "robaudit-error.log"
            atomic_write_text(path, text)
            return path
        except (OSError, RobauditError):
            continue
    path = Path(tempfile.gettempdir()) / "robaudit-error.log"  # nowhere else was writable
    path.write_text(text)
    return path


def _error_line(text: str, label: str = "error") -> None:
    """One line on stderr: the label in red, then ``text`` verbatim (never read as Rich markup)."""
    from rich.markup import escape

    err_console.print(f"[red]{label}:[/] {escape(text)}", highlight=False, soft_wrap=True)


def _interrupted() -> None:
    """The one line after Ctrl-C: what was kept and how to resume."""
    out = _ERROR_LOG_DIR[0]
    kept = (f"finished units are saved in {out / '.robaudit-cache'}" if out is not None else
            "finished work is kept (score: OUT/.robaudit-cache, corrupt: finished .npy files, "
            "train-reference: OUT.state)")
    _error_line(f"{kept}; run the same command again to resume", "interrupted")


def main(argv: list[str] | None = None) -> int:
    """Entry point. Exit codes: 0 ok, 1 a policy failed, 2 bad input (one line), 3 internal error
    (one line naming the exception and the file holding its traceback), 130 interrupted."""
    from typer import Abort

    from robaudit.errors import describe_exception

    try:  # recent typer carries its own copy of click; older releases use click itself
        from typer._click.exceptions import ClickException
    except ImportError:  # pragma: no cover
        from click.exceptions import ClickException  # type: ignore[assignment]

    filter_known_library_warnings()  # import-time deprecation notices of timm, torchvision, robustbench
    messages_on_stderr(quiet=False)  # a command given --quiet turns them off
    try:  # exceptions reach us, not click's handlers
        code = build_app()(args=argv, prog_name="robaudit", standalone_mode=False)
        if code == 130:  # typer ≥ 0.16 turns KeyboardInterrupt into a silent exit code 130
            _interrupted()
        return code if isinstance(code, int) else 0
    except RobauditError as exc:  # one line; a sweep's list of bad zoo entries adds one per entry
        _error_line(str(exc) or type(exc).__name__)
        return exc.exit_code
    except ClickException as exc:  # usage errors: click's message on one line, exit 2
        context = getattr(exc, "ctx", None)
        hint = f" (see `{context.command_path} --help`)" if context is not None else ""
        _error_line(" ".join(exc.format_message().split()) + hint)
        return exc.exit_code
    except (KeyboardInterrupt, Abort):
        _interrupted()
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:  # noqa: BLE001 - every other failure is a bug: one line, exit 3
        log = _write_traceback(exc)
        _error_line(f"{describe_exception(exc)} (traceback in {log})", "internal error")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
