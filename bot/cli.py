"""`mlbot`: the terminal face of the bot. Answers exactly as Slack would, with no workspace."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from bot.answers import QuestionError
from bot.settings import Settings

__all__ = ["main"]

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

    index = commands.add_parser("index", help="build or inspect the search index")
    index_commands = index.add_subparsers(dest="index_command", required=True, metavar="ACTION")
    build = index_commands.add_parser("build", help="(re)build the index from the knowledge folder")
    build.add_argument(
        "--knowledge", default=None, help="knowledge folder (default: KNOWLEDGE_DIR)"
    )
    build.add_argument("--kind", choices=["auto", "flat", "hnsw"], default="auto")
    index_commands.add_parser("info", help="print the live index's manifest")

    evaluate = commands.add_parser("eval", help="evaluate retrieval on the project's question set")
    evaluate.add_argument("--calibrate", action="store_true", help="also print the best thresholds")
    evaluate.add_argument("--misses", action="store_true", help="list the questions missed at 3")
    return parser


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
            out.write(render_answer_text(answer, color=out.isatty()) + "\n")
        return EXIT_OK

    if args.question == "-":
        for line in sys.stdin:
            answer_one(line.rstrip("\n"))
        return EXIT_OK
    return answer_one(args.question)


def _cmd_index(args: argparse.Namespace, out: TextIO) -> int:
    from index.build import build_index
    from index.store import read_manifest

    settings = (
        _settings(knowledge_dir=args.knowledge) if args.index_command == "build" else _settings()
    )
    if args.index_command == "info":
        manifest = read_manifest(settings.resolved_index_dir)
        _emit_json(
            vars(manifest)
            if not hasattr(manifest, "__dataclass_fields__")
            else {name: getattr(manifest, name) for name in manifest.__dataclass_fields__},
            out,
        )
        return EXIT_OK
    from bot.services import make_embedder
    from index.documents import load_passages

    # Parse first: a malformed file fails fast, before the model loads or anything is written.
    load_passages(settings.knowledge_dir)
    embedder = make_embedder(settings)
    summary = build_index(
        knowledge_dir=settings.knowledge_dir,
        index_dir=settings.resolved_index_dir,
        embedder=embedder,
        kind=None if args.kind == "auto" else args.kind,
        progress=True,
    )
    out.write(
        f"Indexed {summary.documents} document(s) into {summary.passages} passages "
        f"({summary.sentences} sentences) in {summary.seconds:.1f}s; "
        f"index type: {summary.index_kind}; at {summary.path}\n"
    )
    return EXIT_OK


def _cmd_eval(args: argparse.Namespace, out: TextIO) -> int:
    from bot.services import build_services
    from index.evaluate import calibrate, evaluate, format_table
    from knowledge import load_eval_set

    eval_set = load_eval_set()
    services = build_services(_settings())
    reports = evaluate(services.retriever, eval_set, progress=True)
    out.write(format_table(reports) + "\n")
    if args.misses:
        for report in reports:
            out.write(f"{report.mode} missed at 3: {', '.join(report.misses) or 'none'}\n")
    if args.calibrate:
        for report in reports:
            threshold, answered, abstained = calibrate(
                services.retriever, eval_set, mode=report.mode
            )
            out.write(
                f"{report.mode}: best threshold {threshold:.3f} "
                f"(answered {answered:.3f}, abstained {abstained:.3f})\n"
            )
    return EXIT_OK


_COMMANDS = {"ask": _cmd_ask, "index": _cmd_index, "eval": _cmd_eval}


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
