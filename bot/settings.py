"""Typed settings, read once from the environment (and `.env`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.embedder import DEFAULT_MODEL
from knowledge import DEFAULT_KNOWLEDGE_DIR

__all__ = ["PROJECT_DIR", "MissingSettingError", "Settings"]

PROJECT_DIR = DEFAULT_KNOWLEDGE_DIR.parent


class MissingSettingError(RuntimeError):
    """A required setting is not set; the message names the variable."""


class Settings(BaseSettings):
    """Every setting the bot reads. Environment variable names are the field names, upper-cased."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Slack (only the Slack app needs these; terminal commands never do).
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = "https://slack.com/api/"
    # OAuth, for installs in any number of workspaces: set both and leave SLACK_BOT_TOKEN
    # unset. Each workspace's token then lives in the database (`mlbot serve --http` serves
    # /slack/install and /slack/oauth_redirect).
    slack_client_id: str = ""
    slack_client_secret: str = ""
    # The bot scopes an install asks for (comma-separated); manifest.json lists the same.
    slack_scopes: str = (
        "assistant:write,app_mentions:read,channels:history,groups:history,im:history,"
        "mpim:history,chat:write,commands,users:read"
    )
    # The redirect URL registered with the app; empty lets Slack use the one configured.
    slack_redirect_uri: str = ""

    # Knowledge and index.
    knowledge_dir: Path = DEFAULT_KNOWLEDGE_DIR
    data_dir: Path = PROJECT_DIR / ".mlbot"
    index_dir: Path | None = None
    embedding_model: str = DEFAULT_MODEL
    # "onnx" (default): ONNX Runtime, exported locally once from the same model; fastest and
    # torch-free at run time. "torch": sentence-transformers on PyTorch, the reference.
    embedding_backend: Literal["onnx", "torch"] = "onnx"
    onnx_cache_dir: Path | None = None
    embedding_threads: int | None = Field(default=None, ge=1)
    auto_rebuild: bool = True
    # A document that cannot be read (damaged, encrypted) stops the build (false), or is
    # reported and left out while the rest is indexed (true).
    skip_bad_documents: bool = False

    # Answers.
    answer_passages: int = Field(default=3, ge=1, le=10)
    max_question_chars: int = Field(default=2000, ge=100)
    min_confidence: float | None = None

    # Storage.
    database_url: str = ""

    # Digests and radar.
    digest_scheduler: bool = True  # `mlbot serve` also runs the digest scheduler in-process
    digest_tick_seconds: int = Field(default=60, ge=1)
    digest_lease_seconds: int = Field(default=300, ge=1)
    radar_threshold: float = Field(default=0.5, ge=0.0, le=1.0)

    # The knowledge owner's gap report. Owners: Slack user ids, comma-separated; in OAuth mode
    # each as TEAM:USER (T0123:U0456), so an owner belongs to one workspace.
    knowledge_owners: str = ""
    gap_report_days: int = Field(default=7, ge=1, le=365)
    # An answer this close to the "not covered" line counts as answered with low confidence.
    gap_low_confidence: float = Field(default=0.45, ge=0.0, le=1.0)
    # Questions, feedback and claims are kept this many days, then deleted on the scheduler's
    # tick (and by `mlbot db purge`); 0 keeps them.
    retention_days: int = Field(default=90, ge=0)

    # Serving: answers and pitfall checks run on this many low-priority threads (one model
    # thread each when EMBEDDING_THREADS is unset), so acknowledgements are never queued behind
    # them.
    model_workers: int = Field(default=2, ge=1, le=32)
    # An acknowledged question is a job until its reply is posted. A process that dies leaves
    # it pending; after this lease another process (or a restart) answers it, or apologises
    # when it is older than JOB_MAX_AGE_SECONDS.
    job_lease_seconds: int = Field(default=60, ge=1)
    job_max_age_seconds: int = Field(default=600, ge=1)
    model_nice: int = Field(default=10, ge=0, le=19)
    # The HTTP server (waitress): threads that run requests (acks are quick; the model work
    # happens elsewhere), and how long an idle or stalled connection is kept.
    http_threads: int = Field(default=16, ge=1, le=256)
    http_idle_timeout: int = Field(default=10, ge=1, le=300)

    @property
    def oauth_mode(self) -> bool:
        """Many workspaces through OAuth; a bot token, when set, keeps single-workspace mode."""
        return bool(self.slack_client_id and self.slack_client_secret and not self.slack_bot_token)

    @property
    def scopes(self) -> list[str]:
        return [scope.strip() for scope in self.slack_scopes.split(",") if scope.strip()]

    @property
    def resolved_onnx_cache_dir(self) -> Path:
        return self.onnx_cache_dir or self.data_dir / "onnx"

    @property
    def resolved_index_dir(self) -> Path:
        return self.index_dir or self.data_dir / "index"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'mlbot.sqlite3'}"

    def owners_for(self, team_id: str) -> list[str]:
        """The knowledge owners of a workspace: TEAM:USER entries for it, and plain USER
        entries outside OAuth mode (one workspace, so they can only mean that one)."""
        owners = []
        for entry in self.knowledge_owners.replace(";", ",").split(","):
            team, _, user = entry.strip().rpartition(":")
            if user and (team == team_id or (not team and not self.oauth_mode)):
                owners.append(user)
        return list(dict.fromkeys(owners))

    def owner_teams(self) -> list[str]:
        """Workspaces named in TEAM:USER owner entries."""
        entries = self.knowledge_owners.replace(";", ",").split(",")
        teams = (entry.strip().rpartition(":")[0] for entry in entries)
        return list(dict.fromkeys(team for team in teams if team))

    def require(self, *names: str) -> None:
        """Raise :class:`MissingSettingError` naming every unset variable among ``names``."""
        missing = [name.upper() for name in names if not getattr(self, name)]
        if missing:
            raise MissingSettingError(
                f"missing setting{'s' if len(missing) > 1 else ''}: {', '.join(missing)} "
                "(set in the environment or in .env; see .env.sample)"
            )
