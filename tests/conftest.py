from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from knowledge import DEFAULT_KNOWLEDGE_DIR
from tests.fakes import HashingEmbedder

ARTICLE = DEFAULT_KNOWLEDGE_DIR / "articles" / "ml-for-leaders.md"
ARTICLE_HINTS = DEFAULT_KNOWLEDGE_DIR / "articles" / "ml-for-leaders.hints.yaml"

# Settings the bot reads: cleared for every test so a developer's shell or .env never leaks in.
_SETTINGS_ENV = [
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "KNOWLEDGE_DIR",
    "DATA_DIR",
    "INDEX_DIR",
    "EMBEDDING_MODEL",
    "AUTO_REBUILD",
    "SKIP_BAD_DOCUMENTS",
    "DATABASE_URL",
    "MIN_CONFIDENCE",
    "ANSWER_PASSAGES",
    "MAX_QUESTION_CHARS",
    "EMBEDDING_BACKEND",
    "ONNX_CACHE_DIR",
    "EMBEDDING_THREADS",
    "DIGEST_SCHEDULER",
    "DIGEST_TICK_SECONDS",
    "DIGEST_LEASE_SECONDS",
    "RADAR_THRESHOLD",
]


@pytest.fixture(scope="session")
def onnx_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export per test session, shared by in-process and subprocess tests."""
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for name in _SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    # A clean working directory means no stray .env file is read.
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture
def knowledge_dir(tmp_path: Path) -> Path:
    """A private copy of the shipped knowledge documents (safe to edit)."""
    target = tmp_path / "knowledge"
    (target / "articles").mkdir(parents=True)
    shutil.copy(ARTICLE, target / "articles")
    shutil.copy(ARTICLE_HINTS, target / "articles")
    return target


@pytest.fixture
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def real_embedder(onnx_cache_dir: Path) -> Iterator[object]:
    """The default serving backend (ONNX Runtime) of the real model."""
    from bot.services import _embedder_for
    from index.embedder import DEFAULT_MODEL

    yield _embedder_for(DEFAULT_MODEL, "onnx", onnx_cache_dir)


@pytest.fixture(scope="session")
def torch_embedder() -> Iterator[object]:
    """The reference backend: sentence-transformers on PyTorch."""
    from bot.services import _embedder_for
    from index.embedder import DEFAULT_MODEL

    yield _embedder_for(DEFAULT_MODEL, "torch")


POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def private_pg_schema() -> Iterator[str]:
    """A private schema in the local PostgreSQL `test` database, dropped afterwards."""
    import os
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(POSTGRES_ADMIN_URL)
    schema = f"mlbot_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        if os.environ.get("CI"):
            raise  # CI starts PostgreSQL; failing to reach it is a real failure there
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}")
    try:
        yield f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    with private_pg_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'mlbot.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))
