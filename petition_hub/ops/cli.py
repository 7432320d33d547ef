"""``petition-hub``: the hub's one console script (see interface.md, "Command line").

Each command is a thin shell: it reads settings, calls one function of the package, prints.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from petition_hub.ops.cliopts import HubError, HubGroup, broker_option, json_option, working
from petition_hub.ops.console_cli import console
from petition_hub.ops.contracts_cli import contracts
from petition_hub.ops.dlq_cli import dlq
from petition_hub.ops.schemas import schemas as schemas_group
from petition_hub.ops.tail import tail_command
from petition_hub.service import logs
from petition_hub.service.settings import Settings, get_settings

if TYPE_CHECKING:
    from petition_hub.domain.calendar import WorkingCalendar
    from petition_hub.domain.rules import RuleSet


def _settings() -> Settings:
    from petition_hub.service.security import check

    try:
        settings = get_settings()
        check(settings)  # the Kafka login (SASL, TLS): a bad combination is refused in one line
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise click.ClickException(f"invalid HUB_* setting: {exc}") from exc
    return settings


def _kafka(settings: Settings) -> dict[str, Any]:
    """The tools' confluent-kafka login (SASL, TLS): the same principal as the workers."""
    from petition_hub.service.security import confluent_config

    return dict(confluent_config(settings))


@click.group(cls=HubGroup)
@click.version_option(package_name="petition-hub")
@click.option("--debug", is_flag=True, help="show the traceback of an error (not one line)")
def main(debug: bool) -> None:
    """The enterprise petition hub (企业诉求): intake, routing, SLA clocks, metrics.

    A configuration or connection problem is one line on standard error and exit status 2."""


main.add_command(contracts)  # petition-hub contracts asyncapi|openapi
main.add_command(console)  # petition-hub console rebuild (and the web side's commands)


@main.command()
@click.option("--demo-rate", default=5.0, show_default=True, help="demo petitions per second")
@click.option("--no-demo", is_flag=True, help="run without the demo stream")
def dev(demo_rate: float, no_demo: bool) -> None:
    """The whole hub on one machine: embedded broker, topics, a worker, a demo stream."""
    # at once: loading the hub takes seconds, and a silent terminal looks like a hang
    print("petition hub (dev): loading…", flush=True)
    from petition_hub.devtools.dev import run_dev
    from petition_hub.devtools.dev_screen import wrap

    settings = _settings()
    logs.configure("WARNING", settings.log_json, fold=wrap)  # dev's screen: 100 columns
    sys.exit(run_dev(settings, demo_rate=None if no_demo else demo_rate))


@main.command()
@broker_option
def worker() -> NoReturn:
    """A stream worker against HUB_BROKER (start more to scale out)."""
    from petition_hub.ops.preflight import PreflightError, check_worker

    settings = _settings()
    if settings.broker is None:
        raise click.ClickException(
            "HUB_BROKER is not set: point it at Kafka (kafka://host:9092), "
            "or run `petition-hub dev` for the embedded broker"
        )
    try:  # the key (fail closed), topics, rules, calendar, web port, broker: one line each
        check_worker(settings)
    except PreflightError as exc:
        raise HubError(str(exc)) from exc

    from petition_hub.service.runner import run_worker
    from petition_hub.service.worker import create_app

    logs.configure(settings.log_level, settings.log_json)
    run_worker(create_app(settings), settings)


main.add_command(tail_command)
main.add_command(dlq)


@main.group()
def topics() -> None:
    """Reconcile the broker with topics.yaml."""


def _topics_broker(settings: Settings) -> str:
    if settings.broker is None:
        raise click.ClickException("HUB_BROKER is not set: which broker should I reconcile?")
    return settings.bootstrap_servers()


def _reconcile(run: Callable[..., tuple[str, int]], *flags: bool, as_json: bool) -> NoReturn:
    """Print what ``run`` (apply or diff) reports of the broker against topics.yaml; exit with
    its code. ``flags``: what the command adds after the topics file."""
    from petition_hub.service.security import confluent_config

    settings = _settings()
    text, code = run(
        _topics_broker(settings),
        settings.embedded,
        settings.topics_file,
        *flags,
        app_id=settings.app_id,
        replication_factor_cap=settings.topics_replication_factor_cap,
        security=confluent_config(settings),
        as_json=as_json,
    )
    click.echo(text, err=code == 2)  # 2: an unreadable topics file, an unreachable broker
    sys.exit(code)


@topics.command("apply")
@broker_option
@click.option(
    "--delete-unexpected",
    is_flag=True,
    help="also delete topics on the broker that topics.yaml does not declare",
)
@json_option
def topics_apply(delete_unexpected: bool, as_json: bool) -> None:
    """Create what is missing, grow partitions, report drift. Deletes nothing unless asked."""
    from petition_hub.topics import run_apply

    _reconcile(run_apply, delete_unexpected, as_json=as_json)


@topics.command("diff")
@broker_option
@json_option
def topics_diff(as_json: bool) -> None:
    """Report how the broker differs from topics.yaml (exit 1 on drift); change nothing."""
    from petition_hub.topics import run_diff

    _reconcile(run_diff, as_json=as_json)


@topics.command("acls")
@click.option("--json", "as_json", is_flag=True, help="JSON bindings instead of the script")
@click.option(  # the old spelling of --json, kept working
    "--format",
    "output_format",
    type=click.Choice(["kafka-acls", "json"]),
    default="kafka-acls",
    hidden=True,
)
@click.option(
    "--bootstrap-server",
    default="${BOOTSTRAP:-kafka:9092}",
    show_default=True,
    help="for kafka-acls.sh (default: $BOOTSTRAP when the script runs)",
)
@click.option(
    "--command-config",
    default="${ADMIN_CONFIG:-admin.properties}",
    show_default=True,
    help="the admin's client config for kafka-acls.sh (SASL/SCRAM credentials)",
)
def topics_acls(
    as_json: bool, output_format: str, bootstrap_server: str, command_config: str
) -> None:
    """Kafka ACLs from topics.yaml and the reference units: each unit only its own topics."""
    from petition_hub.data import data_path
    from petition_hub.ops.acls import AclError, format_json, format_kafka_acls, generate
    from petition_hub.topics import TopicsFileError, load_topics

    settings = _settings()
    try:
        bindings = generate(
            load_topics(settings.topics_file, settings.app_id),
            data_path("departments.yaml"),
            data_path("regions.yaml"),
            app_id=settings.app_id,
        )
        if as_json or output_format == "json":
            click.echo(format_json(bindings), nl=False)
        else:
            click.echo(format_kafka_acls(bindings, bootstrap_server, command_config), nl=False)
    except (AclError, TopicsFileError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def privacy() -> None:
    """Personal data: erase a petition's at the petitioner's request."""


@privacy.command("erase")
@broker_option
@click.argument("petition_id")
@click.option(
    "--reference",
    required=True,
    help="the request's own reference (a ticket number; never personal data): recorded",
)
@click.option("--by", "requested_by", help="who asks (your operator account): recorded")
@click.option("--wait", default=60.0, show_default=True, help="seconds to wait for the outcome")
@json_option
def privacy_erase(
    petition_id: str, reference: str, requested_by: str | None, wait: float, as_json: bool
) -> None:
    """Erase PETITION_ID's personal data now: a redacted revision replaces it on hub.petitions
    (compaction then drops the old ones), and hub.privacy records the erasure (its reference and
    the names of the erased fields, never their values). Exit status 1 unless it is done."""
    from petition_hub.ops.privacy import request_erasure

    settings = _settings()
    if settings.broker is None:
        raise click.ClickException("HUB_BROKER is not set: which hub should erase it?")
    result = request_erasure(
        settings.bootstrap_servers(),
        petition_id,
        reference,
        requested_by,
        wait=wait,
        options=_kafka(settings),
    )
    if as_json:  # the outcome as data; the exit status as without --json
        shown = {"petition_id": petition_id, "outcome": result.outcome, "fields": result.fields}
        click.echo(json.dumps({**shown, "reason": result.reason}, ensure_ascii=False))
        sys.exit(0 if result.outcome == "erased" else 1)
    if result.outcome == "erased":
        fields = ", ".join(result.fields) or "none held personal data"
        click.echo(f"{petition_id}: personal data erased ({fields})")
        return
    if result.outcome == "refused":
        raise click.ClickException(f"{petition_id}: refused: {result.reason}")
    raise click.ClickException(
        f"{petition_id}: requested, but no outcome within {wait:g}s (is a worker running?); "
        "the request stays on hub.privacy and is carried out when one reads it"
    )


@main.command()
@click.option("--quick", is_flag=True, help="a small run (seconds), e.g. for CI")
@click.option(
    "--json",
    "json_to",
    is_flag=False,
    flag_value="-",
    default=None,
    metavar="[PATH]",
    help="JSON instead of the table; with PATH, the table and JSON written to PATH",
)
@click.option("--json-file", "json_file", type=click.Path(path_type=Path), hidden=True)
@click.option(
    "--only",
    type=click.Choice(["path", "console"]),
    default=None,
    help="one part: the data path's stages, or the console (projection, pages, API)",
)
def bench(quick: bool, json_to: str | None, json_file: Path | None, only: str | None) -> None:
    """The benchmark suite: the data path's speed as ratios to same-process baselines; the
    console's projection against the pipeline and its pages' latency at 100,000 petitions."""
    from petition_hub.devtools.bench import PARTS, run_bench

    # One spelling, --json, for both: bare, it prints JSON; with a path (what CI keeps), it
    # writes it there. --json-file PATH, the spelling of a few weeks, still works.
    json_path = Path(json_to) if json_to not in (None, "-") else json_file
    logs.configure("WARNING")
    with working("running the benchmark suite…"):
        parts = PARTS if only is None else (only,)
        sys.exit(run_bench(quick, json_path, as_json=json_to == "-", parts=parts))


@main.group()
def rules() -> None:
    """The routing rules: explain a decision, dry-run a new version."""


def _rules_in_force(settings: Settings) -> RuleSet:
    from petition_hub.agents.routing import load_rules_at

    return load_rules_at(settings.rules)  # a RulesError: one line (HubGroup), or --debug


@rules.command("explain")
@click.argument("text", required=False)
@click.option("--sample", type=click.Path(path_type=Path), help="a channel message file instead")
@click.option("--title")
@click.option("--region-code", help="6-digit division code of the matter")
@click.option("--region-name", help="county name as an operator typed it, e.g. 叶县")
@click.option("--uscc", help="the enterprise's unified social credit code")
@click.option(
    "--type", "petition_type", help="政策咨询, 意见建议, 法律维权, 困难求助, 举报投诉, 其他诉求"
)
@click.option("--json", "as_json", is_flag=True)
def rules_explain(
    text: str | None,
    sample: Path | None,
    title: str | None,
    region_code: str | None,
    region_name: str | None,
    uscc: str | None,
    petition_type: str | None,
    as_json: bool,
) -> None:
    """The routing decision for a petition text and location (or a sample file), with why."""
    from petition_hub.ops.rules import explain, petition_from_sample, petition_from_text

    settings = _settings()
    if (text is None) == (sample is None):
        raise click.ClickException("give a petition TEXT or --sample FILE")
    petition = (
        petition_from_sample(sample)
        if sample is not None
        else petition_from_text(text or "", title, region_code, region_name, uscc, petition_type)
    )
    click.echo(explain(petition, _rules_in_force(settings), settings.city, as_json))


@rules.command("dry-run")
@broker_option
@click.argument("candidate", type=click.Path(exists=True, path_type=Path))
@click.option("--limit", default=10_000, show_default=True, help="the most recent petitions")
@click.option("--json", "as_json", is_flag=True)
def rules_dry_run(candidate: Path, limit: int, as_json: bool) -> None:
    """What CANDIDATE (a rules file or directory) would route differently over recent petitions."""
    from petition_hub.agents.routing import load_rules_at
    from petition_hub.domain.rules import RulesError
    from petition_hub.ops.rules import dry_run_report, recent_petitions

    settings = _settings()
    if settings.broker is None:
        raise click.ClickException("HUB_BROKER is not set: where are the recent petitions?")
    current = _rules_in_force(settings)
    try:
        new = load_rules_at(candidate)
    except RulesError as exc:
        raise click.ClickException("\n".join(exc.errors)) from exc
    with working(f"reading the {limit} most recent petitions of hub.petitions…"):
        petitions = recent_petitions(settings.bootstrap_servers(), limit, options=_kafka(settings))
    click.echo(dry_run_report(petitions, current, new, settings.city, as_json))


@main.group()
def sla() -> None:
    """SLA clocks: when is a petition due?"""


def _time(value: str) -> datetime:
    """ISO-8601; a time without an offset is Asia/Shanghai local time."""
    from zoneinfo import ZoneInfo

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO-8601 time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo("Asia/Shanghai"))


@sla.command("explain")
@click.option("--received", required=True, help="receipt time, ISO-8601 (no offset: Beijing time)")
@click.option("--type", "petition_type", required=True, help="政策咨询, 意见建议, 法律维权, …")
@click.option("--urgency", default="一般", show_default=True, help="一般, 紧急 or 特急")
@click.option("--province-deadline", help="the provincial deadline, ISO-8601")
@click.option("--pause", "pauses", multiple=True, help="a material pause FROM,TO (repeatable)")
@click.option("--json", "as_json", is_flag=True)
def sla_explain(
    received: str,
    petition_type: str,
    urgency: str,
    province_deadline: str | None,
    pauses: tuple[str, ...],
    as_json: bool,
) -> None:
    """The sign-for and resolve deadlines and every ladder step, from the workers' own functions."""

    from petition_hub.domain.calendar import CalendarUnavailable
    from petition_hub.domain.petition import PetitionType, Urgency
    from petition_hub.domain.sla import ClockError, explain

    urgencies = {"一般": Urgency.NORMAL, "紧急": Urgency.URGENT, "特急": Urgency.VERY_URGENT}
    try:
        kind = PetitionType(petition_type)
        level = urgencies.get(urgency) or Urgency(urgency)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    spans = []
    for p in pauses:
        start, sep, end = p.partition(",")
        if not sep:
            raise click.BadParameter(f"--pause takes FROM,TO: {p!r}")
        spans.append((_time(start), _time(end)))
    try:
        result = explain(
            _time(received),
            kind,
            level,
            _time(province_deadline) if province_deadline else None,
            spans,
            cal=_calendar_in_force(_settings())[1],
        )
    except (ClockError, CalendarUnavailable) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        json.dumps(result.to_dict(), ensure_ascii=False, indent=2) if as_json else result.to_text()
    )


@main.group()
def calendar() -> None:
    """The working-day calendar: its sources per year, and importing the State Council's notice."""


def _calendar_in_force(settings: Settings) -> tuple[Path, WorkingCalendar]:
    from petition_hub.domain.calendar import CalendarConfigError, WorkingCalendar
    from petition_hub.service.live import calendar_file

    path = calendar_file(settings.calendar_file)
    try:
        return path, WorkingCalendar.load(path)
    except CalendarConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@calendar.command("status")
@click.option("--metrics-url", help="a worker's /metrics (default: this host's HUB_METRICS_PORT)")
@click.option("--json", "as_json", is_flag=True)
def calendar_status(metrics_url: str | None, as_json: bool) -> None:
    """Each year from last year to two years ahead: official, provisional or none, and where from;
    how many open clocks a worker runs on a provisional year."""

    from petition_hub.domain.sla import SHANGHAI
    from petition_hub.ops.calendar import (
        format_status,
        open_provisional_clocks,
        status_json,
        status_rows,
    )
    from petition_hub.service.clock import clock_from

    settings = _settings()
    path, cal = _calendar_in_force(settings)
    today = clock_from(settings.clock_file)().astimezone(SHANGHAI).date()
    rows = status_rows(cal, today)
    url = metrics_url or f"http://127.0.0.1:{settings.metrics_port}/metrics"
    clocks = open_provisional_clocks(url)
    if as_json:
        click.echo(json.dumps(status_json(rows, str(path), clocks), ensure_ascii=False, indent=2))
    else:
        click.echo(format_status(rows, str(path), clocks, url))


@calendar.command("import")
@click.argument("notice_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--write", is_flag=True, help="add the year to the override file (HUB_CALENDAR_FILE)")
def calendar_import(notice_file: Path, write: bool) -> None:
    """Read the text of the State Council's notice (国务院办公厅关于YYYY年部分节假日安排的通知),
    print the year it understood day by day, and with --write add it to the override file. A
    notice that cannot be read fully is refused with the line it could not read."""
    from petition_hub.domain.notice import NoticeError, parse_notice
    from petition_hub.ops.calendar import ImportError_, format_review, write_notice

    settings = _settings()
    path, cal = _calendar_in_force(settings)
    try:
        text = notice_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {notice_file}: {exc}") from exc
    try:
        notice = parse_notice(text)
    except NoticeError as exc:
        raise click.ClickException(f"{notice_file}: {exc} (nothing written)") from exc
    click.echo(format_review(notice, cal))
    if not write:
        click.echo(f"\nreview the year above, then add it with --write (to {path})")
        return
    try:
        click.echo("\n" + write_notice(notice, path, cal))
    except (ImportError_, OSError, ValueError) as exc:
        raise click.ClickException(f"{exc} (nothing written)") from exc


@main.command()
@broker_option
@click.option(
    "--period",
    required=True,
    help="a month YYYY-MM, a quarter YYYY-Qn or a year YYYY (Asia/Shanghai)",
)
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="also write CSV here")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of the tables")
def report(period: str, csv_path: Path | None, as_json: bool) -> None:
    """The public 通报 for a month, quarter or year: each unit's rates (the 95% 办结率 target
    marked), by county, type, channel and theme, and the common problems; from hub.lifecycle,
    hub.sla and what routing sent the units."""
    from petition_hub.ops.report import Period, compute, read_events
    from petition_hub.ops.report_format import format_json, format_text, namer, unit_namer
    from petition_hub.ops.report_format import write_csv as write_report_csv

    try:
        when = Period.parse(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from exc
    settings = _settings()
    if settings.broker is None:
        raise click.ClickException("HUB_BROKER is not set: which broker holds hub.lifecycle?")
    with working("reading hub.lifecycle, hub.sla and the units' petitions…"):
        events = read_events(settings.bootstrap_servers(), _kafka(settings))
    if events.skipped:
        click.echo(f"warning: {events.skipped} records skipped (not decodable)", err=True)
    result = compute(events.lifecycle, events.sla, when, events.facts)
    name = namer(result, unit_namer(_rules_in_force(settings)))
    click.echo(format_json(result, name) if as_json else format_text(result, name))
    if csv_path is not None:
        try:
            write_report_csv(csv_path, result, name)
        except OSError as exc:
            raise click.ClickException(f"cannot write {csv_path}: {exc.strerror or exc}") from exc


main.add_command(schemas_group)
