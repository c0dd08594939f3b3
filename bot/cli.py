"""`mlbot`: the terminal face of the bot. Answers exactly as Slack would, with no workspace."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from bot.answers import QuestionError
from bot.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.digests import DigestService
    from bot.gaps import GapService, GapTickReport
    from bot.slack.workspaces import Workspaces
    from bot.store import Storage
    from index.embedder import Embedder

__all__ = ["main"]

_WORKSPACE_HELP = (
    "the workspace's team id (default: SLACK_BOT_TOKEN's workspace, or the only one installed)"
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlbot",
        description="Answers engineering leaders' ML questions from the knowledge base.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ask = commands.add_parser("ask", help="answer a question from the knowledge base")
    ask.add_argument("question", help="the question, or - to read one question per line from stdin")
    ask.add_argument("--json", action="store_true", help="print JSON (one object per question)")
    ask.add_argument("--k", type=int, default=None, help="passages to return (default 3)")
    ask.add_argument(
        "--no-rebuild", action="store_true", help="do not rebuild a stale index, answer from it"
    )
    ask.add_argument(
        "--verbose", action="store_true", help="also print scores and where each quote is"
    )

    index = commands.add_parser("index", help="build or inspect the search index")
    index_commands = index.add_subparsers(dest="index_command", required=True, metavar="ACTION")
    build = index_commands.add_parser("build", help="(re)build the index from the knowledge folder")
    build.add_argument(
        "--knowledge", default=None, help="knowledge folder (default: KNOWLEDGE_DIR)"
    )
    build.add_argument("--kind", choices=["auto", "flat", "hnsw"], default="auto")
    build.add_argument(
        "--skip-bad",
        action="store_true",
        help="leave out documents that cannot be read (named on stderr) instead of stopping "
        "(also SKIP_BAD_DOCUMENTS=true)",
    )
    index_commands.add_parser("info", help="print the live index's manifest")

    docs = commands.add_parser("docs", help="list, add or remove knowledge documents")
    docs_commands = docs.add_subparsers(dest="docs_command", required=True, metavar="ACTION")
    docs_list = docs_commands.add_parser("list", help="each document: title, format, passages")
    docs_list.add_argument("--json", action="store_true")
    docs_add = docs_commands.add_parser(
        "add", help="copy files (md, txt, html, pdf, docx) into the knowledge folder, rebuild"
    )
    docs_add.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    docs_add.add_argument("--replace", action="store_true", help="overwrite a same-named file")
    docs_remove = docs_commands.add_parser("remove", help="take a document out, rebuild")
    docs_remove.add_argument("id", help="the document's id, as `mlbot docs list` shows it")

    serve = commands.add_parser("serve", help="run the Slack app (HTTP or Socket Mode)")
    mode = serve.add_mutually_exclusive_group()
    mode.add_argument("--http", action="store_true", help="HTTP mode (default): POST /slack/events")
    mode.add_argument("--socket", action="store_true", help="Socket Mode (needs SLACK_APP_TOKEN)")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=None, help="default: $PORT or 3000")

    pitfalls = commands.add_parser("pitfalls", help="spot ML pitfalls in a plan or message")
    pitfalls.add_argument(
        "text",
        nargs="?",
        default="",
        help="the text; - reads one text per stdin line; none lists all",
    )
    pitfalls.add_argument("--json", action="store_true", help="print JSON (one object per text)")
    pitfalls.add_argument("--verbose", action="store_true", help="also print match scores")

    checklist = commands.add_parser("checklist", help="print a checklist, or the list of topics")
    checklist.add_argument("topic", nargs="?", default="")
    checklist.add_argument("head_count", nargs="?", default="", help="for team-structure")
    checklist.add_argument("--json", action="store_true")

    digest = commands.add_parser("digest", help="channel digests of pitfalls")
    digest_commands = digest.add_subparsers(dest="digest_command", required=True, metavar="ACTION")
    subscribe = digest_commands.add_parser("subscribe", help="subscribe a channel")
    subscribe.add_argument("--channel", required=True)
    subscribe.add_argument("--every", choices=["daily", "weekly"], default="weekly")
    subscribe.add_argument("--at", default="09:00", help="local time, HH:MM (default 09:00)")
    subscribe.add_argument("--tz", default="UTC", help="time zone, e.g. Europe/Berlin")
    subscribe.add_argument("--workspace", default=None, help=_WORKSPACE_HELP)
    for name, text in (
        ("unsubscribe", "stop a channel's digests"),
        ("preview", "print the digest a channel would get now (posts nothing)"),
        ("status", "show a channel's schedule"),
    ):
        sub = digest_commands.add_parser(name, help=text)
        sub.add_argument("--channel", required=True)
        sub.add_argument("--workspace", default=None, help=_WORKSPACE_HELP)
    tick = digest_commands.add_parser("tick", help="post every due digest once, then exit")
    tick.add_argument("--now", default=None, help="pretend it is this ISO time (UTC if no zone)")

    gaps = commands.add_parser(
        "gaps", help="what people asked that the knowledge base could not answer (for owners)"
    )
    gaps.add_argument("--days", type=int, default=None, help="period, in days (default 7)")
    gaps.add_argument("--json", action="store_true")
    gaps.add_argument("--workspace", default=None, help=_WORKSPACE_HELP)
    gaps.add_argument(
        "--send", action="store_true", help="send the weekly reports to the owners now (once)"
    )
    gaps.add_argument("--now", default=None, help="with --send: pretend it is this ISO time")

    worker = commands.add_parser("worker", help="run the digest scheduler until stopped")
    worker.add_argument("--interval", type=float, default=None, help="seconds between ticks")

    db = commands.add_parser("db", help="database migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply all migrations (also done on start)")
    db_commands.add_parser("current", help="print the database's migration revision")
    purge = db_commands.add_parser(
        "purge", help="delete questions, feedback and claims older than the retention period"
    )
    purge.add_argument("--older-than", type=int, default=None, metavar="DAYS")
    forget = db_commands.add_parser("forget", help="delete one person's stored data")
    forget.add_argument("--user", required=True, help="their Slack user id (U…)")
    forget.add_argument("--workspace", default=None, help="only in this workspace (T…)")

    evaluate = commands.add_parser(
        "eval", help="evaluate retrieval and answer composition on the project's question sets"
    )
    evaluate.add_argument("--calibrate", action="store_true", help="also print the best thresholds")
    evaluate.add_argument(
        "--misses",
        action="store_true",
        help="list the questions missed at 3 and the answers that start late or cut a list",
    )
    evaluate.add_argument(
        "--set",
        dest="sets",
        action="append",
        metavar="YAML",
        help="a question set to evaluate (repeatable; default: knowledge/eval/questions.yaml "
        "and answer_questions.yaml)",
    )
    evaluate.add_argument(
        "--pitfalls",
        action="store_true",
        help="evaluate the pitfall detector instead (5-fold cross-validation over its training "
        "messages, then the evaluation set)",
    )
    return parser


# A line of stdin longer than this is cut (a person's question or plan is far shorter).
MAX_LINE_CHARS = 8000


def stdin_lines(stream: BinaryIO | None = None) -> Iterator[str]:
    """Lines of stdin as text: invalid UTF-8 becomes U+FFFD instead of ending the run, and a
    line is read at most MAX_LINE_CHARS bytes at a time (the rest of a huge line is skipped,
    with a note on stderr), so one pasted megabyte never sits in memory whole."""
    if stream is None:
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:  # an already decoded text stream
            for text in sys.stdin:
                yield text.rstrip("\r\n")[:MAX_LINE_CHARS]
            return
        stream = buffer
    number = 0
    while chunk := stream.readline(MAX_LINE_CHARS):
        number += 1
        if not chunk.endswith(b"\n"):
            skipped = 0
            while (rest := stream.readline(MAX_LINE_CHARS)) and not rest.endswith(b"\n"):
                skipped += len(rest)
            skipped += len(rest)
            if skipped:
                print(
                    f"line {number}: cut to its first {MAX_LINE_CHARS} characters",
                    file=sys.stderr,
                )
        yield chunk.decode("utf-8", errors="replace").rstrip("\r\n")


def _settings(**overrides: object) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


def _emit_json(payload: dict[str, object], out: TextIO) -> None:
    out.write(json.dumps(payload, ensure_ascii=False) + "\n")
    out.flush()


def _cmd_ask(args: argparse.Namespace, out: TextIO) -> int:
    from bot.render_text import render_answer_text
    from bot.services import build_services

    if args.k is not None and not 1 <= args.k <= 20:
        raise CliError("--k must be between 1 and 20", EXIT_USAGE)
    if args.question != "-":
        # Validate before the (slow) model load so a bad question fails instantly.
        try:
            from bot.answers import clean_question

            clean_question(args.question, max_chars=10**9)
        except QuestionError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
    services = build_services(_settings(), rebuild=False if args.no_rebuild else None)
    answers = services.answers

    def answer_one(question: str) -> int:
        try:
            answer = answers.answer(question, k=args.k)
        except QuestionError as exc:
            if args.question != "-":
                raise CliError(str(exc), EXIT_USAGE) from None
            _emit_json(
                {"question": question, "answered": False, "passages": [], "error": str(exc)}, out
            )
            return EXIT_USAGE
        if answer.truncated:
            print(
                f"notice: the question was longer than {answers.max_question_chars} characters "
                "and was cut",
                file=sys.stderr,
            )
        if args.json:
            _emit_json(answer.to_json(), out)
        else:
            out.write(render_answer_text(answer, color=out.isatty(), verbose=args.verbose) + "\n")
        return EXIT_OK

    if args.question == "-":
        for line in stdin_lines():
            answer_one(line)
        return EXIT_OK
    return answer_one(args.question)


def _cmd_index(args: argparse.Namespace, out: TextIO) -> int:
    from index.build import build_index
    from index.store import read_manifest
    from knowledge.errors import KnowledgeError

    settings = (
        _settings(knowledge_dir=args.knowledge) if args.index_command == "build" else _settings()
    )
    if args.index_command == "info":
        manifest = read_manifest(settings.resolved_index_dir)
        _emit_json(
            dataclasses.asdict(manifest),
            out,
        )
        return EXIT_OK
    from bot.services import make_embedder
    from index.documents import load_passages

    skip_bad = args.skip_bad or settings.skip_bad_documents
    skipped: list[str] = []

    def report(error: KnowledgeError) -> None:
        skipped.append(str(error))
        print(f"skipped: {error}", file=sys.stderr)

    # Parse first: a malformed file fails fast, before the model loads or anything is written.
    load_passages(settings.knowledge_dir, on_error=report if skip_bad else None)
    embedder = make_embedder(settings)
    summary = build_index(
        knowledge_dir=settings.knowledge_dir,
        index_dir=settings.resolved_index_dir,
        embedder=embedder,
        kind=None if args.kind == "auto" else args.kind,
        progress=True,
        on_error=(lambda error: None) if skip_bad else None,  # reported above
    )
    out.write(
        f"Indexed {summary.documents} document(s) into {summary.passages} passages "
        f"({summary.sentences} sentences) in {summary.seconds:.1f}s "
        f"({', '.join(f'{name} {secs:.1f}s' for name, secs in summary.phases.items())}); "
        f"index type: {summary.index_kind}; at {summary.path}\n"
    )
    if summary.encoded < summary.distinct:
        out.write(
            f"Encoded {summary.encoded} new or changed passage text(s); the other "
            f"{summary.distinct - summary.encoded} reused their vectors from the last build\n"
        )
    if skipped:
        out.write(f"{len(skipped)} document(s) left out; see the messages above\n")
    return EXIT_OK


def _cmd_docs(args: argparse.Namespace, out: TextIO) -> int:
    from index.library import add_documents, list_documents, remove_document

    settings = _settings()
    if args.docs_command == "list":
        documents = list_documents(settings.knowledge_dir, settings.resolved_index_dir)
        if args.json:
            for document in documents:
                _emit_json(document.to_json(), out)
            return EXIT_OK
        for d in documents:
            passages = (
                f"{d.passages} passage{'s' if d.passages != 1 else ''}"
                if d.passages is not None
                else "not built yet"
            )
            built = f", built {d.built_at}" if d.built_at else ""
            out.write(f"{d.id}  [{d.format}]  {d.title}\n    {d.path}: {passages}{built}\n")
        return EXIT_OK
    if args.docs_command == "add":
        added = add_documents(settings.knowledge_dir, list(args.paths), replace=args.replace)
        out.write("".join(f"added {path}\n" for path in added))
    else:
        removed = remove_document(settings.knowledge_dir, args.id)
        out.write(f"removed {removed}\n")
    return _rebuild(settings, out)


def _rebuild(settings: Settings, out: TextIO) -> int:
    from bot.services import make_embedder
    from index.build import build_index

    summary = build_index(
        knowledge_dir=settings.knowledge_dir,
        index_dir=settings.resolved_index_dir,
        embedder=make_embedder(settings),
        progress=True,
    )
    out.write(
        f"Rebuilt: {summary.passages} passages from {summary.documents} document(s) in "
        f"{summary.seconds:.1f}s; {summary.encoded} new or changed passage text(s) encoded\n"
    )
    return EXIT_OK


def _cmd_eval(args: argparse.Namespace, out: TextIO) -> int:
    from bot.answer_eval import evaluate_composition, format_composition
    from bot.services import build_services
    from index.evaluate import calibrate, evaluate, format_table
    from knowledge import EVAL_DIR, load_eval_set

    if args.pitfalls:
        return _eval_pitfalls(args, out)
    paths = [Path(p) for p in args.sets or ()] or [
        EVAL_DIR / "questions.yaml",
        EVAL_DIR / "answer_questions.yaml",
    ]
    sets = [(path, load_eval_set(path)) for path in paths]
    services = build_services(_settings())
    for path, eval_set in sets:
        out.write(f"== {path.name}\n")
        reports = evaluate(services.retriever, eval_set, progress=True)
        out.write(format_table(reports) + "\n")
        composition = evaluate_composition(services.answers, eval_set, progress=True)
        out.write(format_composition(composition) + "\n")
        if args.misses:
            for report in reports:
                out.write(f"{report.mode} missed at 3: {', '.join(report.misses) or 'none'}\n")
            for miss in composition.misses():
                out.write(f"composition: {miss}\n")
        if args.calibrate:
            for report in reports:
                threshold, answered, abstained = calibrate(
                    services.retriever, eval_set, mode=report.mode
                )
                out.write(
                    f"{report.mode}: best threshold {threshold:.3f} "
                    f"(answered {answered:.3f}, abstained {abstained:.3f})\n"
                )
        out.write("\n")
    return EXIT_OK


def _eval_pitfalls(args: argparse.Namespace, out: TextIO) -> int:
    from bot.pitfalls import PitfallDetector, cross_validate_detector, evaluate_detector
    from bot.services import catalogue_path, make_detector, make_embedder, training_messages
    from knowledge import load_labelled_messages, load_pitfalls
    from knowledge.schema import LabelledMessage, LabelledMessages

    settings = _settings()
    embedder = make_embedder(settings)
    catalogue = load_pitfalls(catalogue_path(settings, "pitfalls.yaml"))
    reports = []
    messages = training_messages(settings, catalogue)
    if messages:

        def train(kept: Sequence[LabelledMessage]) -> PitfallDetector:
            return PitfallDetector(embedder=embedder, pitfalls=catalogue, messages=kept)

        def progress(fold: int, folds: int) -> None:
            print(
                f"cross-validating on the training messages: fold {fold}/{folds}…", file=sys.stderr
            )

        report = cross_validate_detector(
            train, LabelledMessages(messages=messages), progress=progress
        )
        reports.append(("crossval", report))
    detector = make_detector(settings, embedder=embedder, pitfalls=catalogue)
    reports.append(
        ("evaluation", evaluate_detector(detector, load_labelled_messages(pitfalls=catalogue)))
    )
    out.write("set          messages  precision  recall   TP  FP  FN\n")
    for name, report in reports:
        out.write(
            f"{name:<12} {report.messages:>8}  {report.precision:>9.3f}  {report.recall:>6.3f}  "
            f"{report.true_positives:>3} {report.false_positives:>3} {report.false_negatives:>3}\n"
        )
        if args.misses:
            for mistake in report.mistakes:
                out.write(f"    {mistake}\n")
    return EXIT_OK


def _configure_logging() -> None:
    """Long-running commands log to stderr; LOG_LEVEL picks the level (default INFO). Tokens
    and the configured secrets are masked in every line."""
    import logging
    import os

    from bot.logsafe import RedactingFormatter

    settings = _settings()
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s",
            secrets=(
                settings.slack_bot_token,
                settings.slack_app_token,
                settings.slack_signing_secret,
                settings.slack_client_secret,
            ),
        )
    )
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(), handlers=[handler])


def _cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    import os

    from bot.settings import MissingSettingError
    from bot.slack.server import StartupError, serve_http, serve_socket

    _configure_logging()
    settings = _settings()
    try:
        if args.socket:
            serve_socket(settings)
        else:
            port = args.port if args.port is not None else int(os.environ.get("PORT") or 3000)
            serve_http(settings, host=args.host, port=port)
    except (StartupError, MissingSettingError) as exc:
        raise CliError(str(exc)) from None
    return EXIT_OK


def _cmd_pitfalls(args: argparse.Namespace, out: TextIO) -> int:
    from bot.pitfalls import find_pitfall
    from bot.services import catalogue_path, make_detector
    from knowledge import load_pitfalls

    settings = _settings()
    catalogue = load_pitfalls(catalogue_path(settings, "pitfalls.yaml"))
    if not args.text.strip():
        if args.json:
            for pitfall in catalogue.pitfalls:
                _emit_json({"id": pitfall.id, "title": pitfall.title}, out)
        else:
            for pitfall in catalogue.pitfalls:
                out.write(f"{pitfall.id}: {pitfall.title}\n    “{pitfall.source.quote}”\n")
        return EXIT_OK
    named = find_pitfall(catalogue, args.text) if args.text != "-" else None
    if named is not None:
        if args.json:
            _emit_json(named.model_dump(include={"id", "title", "source", "advice"}), out)
            return EXIT_OK
        out.write(f"{named.title} ({named.id})\n")
        out.write(f"  Why it matters: “{named.source.quote}”\n    — {named.source.section}\n")
        for advice in named.advice:
            if advice.quote != named.source.quote:
                out.write(f"  What helps: “{advice.quote}”\n    — {advice.section}\n")
        out.write(f"  For your next review: {named.review_question}\n")
        return EXIT_OK
    detector = make_detector(settings, pitfalls=catalogue)
    texts = list(stdin_lines()) if args.text == "-" else [args.text[:MAX_LINE_CHARS]]
    for text, matches in zip(texts, detector.score_many(texts), strict=True):
        if args.json:
            _emit_json({"text": text, "pitfalls": [m.to_json() for m in matches]}, out)
            continue
        if not matches:
            out.write("No pitfalls spotted.\n")
        for match in matches:
            pitfall = match.pitfall
            score = f", score {match.score:.2f}" if args.verbose else ""
            out.write(f"• {pitfall.title} ({pitfall.id}{score})\n")
            if match.evidence:
                out.write(f"    Spotted in: “{match.evidence}”\n")
            advice = match.best_advice
            out.write(f"    What helps: “{advice.quote}”\n      — {advice.section}\n")
    return EXIT_OK


def _cmd_checklist(args: argparse.Namespace, out: TextIO) -> int:
    from bot.services import catalogue_path
    from bot.slack.listeners.commands.ml_checklist import parse_checklist_args
    from knowledge import load_checklists

    checklists = load_checklists(catalogue_path(_settings(), "checklists.yaml"))
    topic, head_count, problem = parse_checklist_args(f"{args.topic} {args.head_count}")
    if problem:
        raise CliError(problem.replace("/ml-checklist", "mlbot checklist"), EXIT_USAGE)
    if not topic:
        for c in checklists.checklists:
            out.write(f"{c.id:<16} {c.summary}\n")
        return EXIT_OK
    checklist = checklists.get(topic)
    if checklist is None:
        known = ", ".join(c.id for c in checklists.checklists)
        raise CliError(f"no checklist called {topic!r}; topics: {known}", EXIT_USAGE)
    stage = checklist.stage_for(head_count) if head_count else None
    items = [*checklist.items, *(stage.items if stage else [])]
    if args.json:
        _emit_json(
            {
                "id": checklist.id,
                "title": checklist.title,
                "stage": stage.id if stage else None,
                "items": [
                    {
                        "id": i.id,
                        "text": i.text,
                        "section": i.source.section,
                        "quote": i.source.quote,
                    }
                    for i in items
                ],
            },
            out,
        )
        return EXIT_OK
    out.write(f"{checklist.title}\n{checklist.summary}\n")
    if stage:
        out.write(f"Stage: {stage.title}\n")
    for item in items:
        out.write(f"[ ] {item.text}\n    {item.source.section}: “{item.source.quote}”\n")
    return EXIT_OK


def _digest_service(settings: Settings) -> tuple[DigestService, Workspaces]:
    from bot.pitfalls import PitfallDetector
    from bot.services import catalogue_path, make_detector
    from bot.slack.app import make_web_client
    from bot.slack.server import make_digest_service, make_workspaces
    from bot.store import Storage
    from knowledge import load_pitfalls

    catalogue = load_pitfalls(catalogue_path(settings, "pitfalls.yaml"))

    def detector() -> PitfallDetector:
        return make_detector(settings, pitfalls=catalogue)

    storage = Storage.from_url(settings.resolved_database_url)
    client = make_web_client(settings)
    workspaces = make_workspaces(settings, storage=storage, client=client)
    service = make_digest_service(
        settings,
        storage=storage,
        client=client,
        catalogue=catalogue,
        detector=detector,
        workspaces=workspaces,
    )
    return service, workspaces


def _workspace(given: str | None, settings: Settings, storage: Storage) -> str:
    """The workspace a terminal digest command is about: --workspace, else the bot token's
    own, else the only one installed."""
    if given:
        return given
    if settings.slack_bot_token:
        from bot.slack.app import make_web_client
        from bot.slack.server import StartupError, check_token

        try:
            return str(check_token(make_web_client(settings)).get("team_id") or "")
        except StartupError as exc:
            raise CliError(str(exc)) from None
    if settings.oauth_mode:
        teams = storage.installed_team_ids()
        if len(teams) == 1:
            return teams[0]
        raise CliError(
            f"{len(teams)} workspaces have the app installed: say which with --workspace T…",
            EXIT_USAGE,
        )
    asked = storage.known_team_ids()
    return asked[0] if len(asked) == 1 else ""


def _parse_now(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--now {value!r} is not an ISO date-time", EXIT_USAGE) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _cmd_digest(args: argparse.Namespace, out: TextIO) -> int:
    from bot.digests import Schedule, ScheduleError
    from bot.render_text import render_digest_text
    from bot.slack.channels import SlackChannels

    settings = _settings()
    command = args.digest_command
    if command in ("preview", "tick") and not settings.oauth_mode:
        settings.require("slack_bot_token")
    service, workspaces = _digest_service(settings)
    team = "" if command == "tick" else _workspace(args.workspace, settings, service.storage)
    if command == "subscribe":
        try:
            _, schedule = service.subscribe(
                team_id=team,
                channel_id=args.channel,
                user_id="cli",
                cadence=args.every,
                at_time=args.at,
                tz=args.tz,
            )
        except ScheduleError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
        nxt = schedule.next_run(_parse_now(None))
        out.write(
            f"{args.channel}: digest {schedule.describe()}; first at {nxt:%Y-%m-%d %H:%M} UTC\n"
        )
    elif command == "unsubscribe":
        stopped = service.storage.digests.deactivate_subscription(
            team_id=team, channel_id=args.channel
        )
        out.write(f"{args.channel}: {'unsubscribed' if stopped else 'was not subscribed'}\n")
    elif command == "status":
        sub = service.storage.digests.subscription(team_id=team, channel_id=args.channel)
        if sub is None or not sub.active:
            out.write(f"{args.channel}: not subscribed\n")
        else:
            last = service.storage.digests.last_posted(sub.id)
            out.write(
                f"{args.channel}: digest {Schedule.of(sub).describe()}; last posted period: "
                f"{last.period_key if last else 'none'}\n"
            )
    elif command == "preview":
        client = workspaces.client_for(team)
        if client is None:
            raise CliError(f"the app is not installed in workspace {team}")
        preview = service.preview(
            team_id=team, channel_id=args.channel, channels=SlackChannels(client)
        )
        out.write(render_digest_text(preview) + "\n")
    else:
        report = service.tick(now=_parse_now(args.now))
        out.write(
            f"posted {len(report.posted)}, skipped {len(report.skipped)}, "
            f"failed {len(report.failed)}"
            + (f": posted {', '.join(report.posted)}" if report.posted else "")
            + "\n"
        )
        return EXIT_FAILURE if report.failed else EXIT_OK
    return EXIT_OK


def _gap_service(
    settings: Settings, storage: Storage, team: str | None
) -> tuple[GapService, Callable[..., GapTickReport]]:
    """The gap report service; the model loads only when there are questions to group."""
    from bot.services import make_embedder
    from bot.slack.app import make_web_client
    from bot.slack.server import make_gap_service, make_workspaces

    workspaces = make_workspaces(
        settings, storage=storage, client=make_web_client(settings), single_team=team or None
    )
    embedder: Embedder | None = None

    def loaded() -> Embedder:
        nonlocal embedder
        embedder = embedder or make_embedder(settings)
        return embedder

    return make_gap_service(settings, storage=storage, workspaces=workspaces, embedder=loaded)


def _cmd_gaps(args: argparse.Namespace, out: TextIO) -> int:
    from bot.render_text import render_gaps_text
    from bot.store import Storage

    settings = _settings()
    storage = Storage.from_url(settings.resolved_database_url)
    if args.send:
        # Every workspace with owners: the installed ones, or the bot token's own.
        if not settings.oauth_mode:
            settings.require("slack_bot_token")
        team = "" if settings.oauth_mode else _workspace(None, settings, storage)
        _, weekly = _gap_service(settings, storage, team)
        tick = weekly(_parse_now(args.now))
        out.write(
            f"sent {len(tick.sent)}, nothing to report {len(tick.empty)}, "
            f"skipped {len(tick.skipped)}, failed {len(tick.failed)}\n"
        )
        return EXIT_FAILURE if tick.failed else EXIT_OK
    days = args.days if args.days is not None else settings.gap_report_days
    if not 1 <= days <= 365:
        raise CliError("--days must be between 1 and 365", EXIT_USAGE)
    team = _workspace(args.workspace, settings, storage)
    service, _ = _gap_service(settings, storage, team)
    report = service.report(team_id=team, days=days)
    if args.json:
        _emit_json(report.to_json(), out)
    else:
        out.write(render_gaps_text(report) + "\n")
    return EXIT_OK


def _cmd_worker(args: argparse.Namespace, out: TextIO) -> int:
    import logging
    import signal
    import threading

    from bot.slack.server import run_scheduler

    _configure_logging()
    settings = _settings()
    if not settings.oauth_mode:
        settings.require("slack_bot_token")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    interval = args.interval if args.interval is not None else settings.digest_tick_seconds
    digests, _ = _digest_service(settings)
    gaps_tick = None
    if settings.knowledge_owners:
        team = None if settings.oauth_mode else _workspace(None, settings, digests.storage)
        _, gaps_tick = _gap_service(settings, digests.storage, team)
    run_scheduler(
        digests,
        interval=interval,
        stop=stop,
        gaps_tick=gaps_tick,
        retention_days=settings.retention_days,
    )
    logging.getLogger("bot.worker").info("digest worker ticking every %ss", interval)
    while not stop.wait(1.0):
        pass
    return EXIT_OK


def _cmd_db(args: argparse.Namespace, out: TextIO) -> int:
    from bot.store import Storage, make_engine
    from bot.store.migrate import current_revision, head_revision, upgrade

    settings = _settings()
    engine = make_engine(settings.resolved_database_url)
    if args.db_command == "upgrade":
        before, after = upgrade(engine)
        out.write(f"database at {after} (was {before or 'empty'})\n")
    elif args.db_command == "purge":
        days = settings.retention_days if args.older_than is None else args.older_than
        if days < 1:
            raise CliError("--older-than must be at least 1 day", EXIT_USAGE)
        storage = Storage.from_url(settings.resolved_database_url)
        gone = storage.purge(dt.datetime.now(dt.UTC) - dt.timedelta(days=days))
        out.write(f"deleted {gone} questions (and their feedback) older than {days} days\n")
    elif args.db_command == "forget":
        storage = Storage.from_url(settings.resolved_database_url)
        rows = storage.forget_user(args.user, team_id=args.workspace)
        out.write(f"deleted {rows} rows of {args.user}\n")
    else:
        out.write(f"{current_revision(engine) or 'empty'} (head {head_revision()})\n")
    return EXIT_OK


_COMMANDS = {
    "digest": _cmd_digest,
    "worker": _cmd_worker,
    "gaps": _cmd_gaps,
    "db": _cmd_db,
    "ask": _cmd_ask,
    "index": _cmd_index,
    "docs": _cmd_docs,
    "eval": _cmd_eval,
    "serve": _cmd_serve,
    "pitfalls": _cmd_pitfalls,
    "checklist": _cmd_checklist,
}


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Entry point of the `mlbot` console script; returns the process exit code."""
    from index.embedder import EmbedderError
    from index.store import IndexStoreError
    from knowledge.errors import KnowledgeError

    args = _parser().parse_args(argv)
    out = out or sys.stdout
    try:
        return _COMMANDS[args.command](args, out)
    except CliError as exc:
        print(f"mlbot: {exc}", file=sys.stderr)
        return exc.code
    except (KnowledgeError, IndexStoreError, EmbedderError) as exc:
        print(f"mlbot: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
