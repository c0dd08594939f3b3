"""Exactly-once work through the database: a unique row per piece of work, claimed with a
lease before the work is done, then marked posted. Digests and gap reports both use it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

__all__ = ["claim"]


def claim(
    session: Callable[[], AbstractContextManager[Session]],
    model: Any,
    *,
    keys: dict[str, Any],
    worker: str,
    now: dt.datetime,
    lease: dt.timedelta,
) -> int | None:
    """Claim the row ``keys`` names for ``worker``; its id, or None if someone else holds it
    or has done it.

    The unique key makes the first claim win; a claim whose lease ran out (its process died
    before finishing) can be taken over by exactly one other worker.
    """
    expires = now + lease
    try:
        with session() as s:
            row = model(**keys, status="claimed", claimed_by=worker, lease_expires_at=expires)
            s.add(row)
            s.flush()
            return int(row.id)
    except IntegrityError:
        pass
    with session() as s:
        taken = (
            s.execute(
                update(model)
                .where(
                    *(getattr(model, name) == value for name, value in keys.items()),
                    model.status == "claimed",
                    model.lease_expires_at < now,
                )
                .values(claimed_by=worker, lease_expires_at=expires)
                .returning(model.id)
            )
            .scalars()
            .first()
        )
        return int(taken) if taken is not None else None
