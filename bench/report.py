"""The results table (stdout) and its JSON twin (bench/.data/results.json)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Row", "format_table", "write_json"]

HEADERS = ("benchmark", "measured (median/p99)", "floor", "ratio", "target", "pass/fail")


@dataclass(frozen=True)
class Row:
    benchmark: str
    measured: str
    floor: str
    ratio: str
    target: str
    passed: bool | None  # None: not judged (skipped or failed to run)
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "n/a"}[self.passed]


def ms(median: float, p99: float) -> str:
    return f"{median:.1f} / {p99:.1f} ms"


def secs(median: float, p99: float) -> str:
    return f"{median:.2f} / {p99:.2f} s"


def ratio(value: float, suffix: str = "x") -> str:
    return "-" if math.isnan(value) else f"{value:.2f}{suffix}"


def format_table(rows: list[Row]) -> str:
    cells = [
        HEADERS,
        *((r.benchmark, r.measured, r.floor, r.ratio, r.target, r.verdict) for r in rows),
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADERS))]

    def line(row: tuple[str, ...]) -> str:
        return " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def _clean(value: Any) -> Any:
    """JSON has no NaN: write null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(path: Path, rows: list[Row], **meta: Any) -> None:
    payload = {
        **meta,
        "rows": [{**asdict(r), "verdict": r.verdict} for r in rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(payload), indent=2, ensure_ascii=False) + "\n")
