"""A checkbox on a checklist item: the tick is saved per person and channel, and the
checklist is redrawn in place so its progress line counts the tick."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, Respond

from bot.slack.blocks import checklist_message
from bot.slack.deps import BotDeps
from bot.slack.listeners.commands.ml_checklist import MAX_HEAD_COUNT
from bot.slack.text import channel_of_action
from bot.slack.workspaces import team_of

log = logging.getLogger(__name__)


def _head_count(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_HEAD_COUNT else None


def make_checklist_tick_handler(deps: BotDeps) -> Callable[..., None]:
    def handle_checklist_tick(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: Any
    ) -> None:
        ack()
        parts = str(action.get("block_id", "")).split("|")
        # "chk|checklist|item|head count"; messages from before the head count have three parts.
        if len(parts) not in (3, 4) or parts[0] != "chk":
            return
        checklist_id, item_id = parts[1], parts[2]
        head_count = _head_count(parts[3]) if len(parts) == 4 else None
        checklist = deps.services.checklists.get(checklist_id)
        if checklist is None or item_id not in {i.id for i in checklist.all_items()}:
            return  # an old message whose checklist or item no longer exists
        selected = {o.get("value") for o in action.get("selected_options") or []}
        user, channel, team = body["user"]["id"], channel_of_action(body), team_of(context)
        deps.storage.checklists.set_tick(
            team_id=team,
            user_id=user,
            channel_id=channel,
            checklist_id=checklist_id,
            item_id=item_id,
            ticked=item_id in selected,
        )
        if not body.get("response_url"):
            return
        ticked = deps.storage.checklists.ticked_items(
            team_id=team, user_id=user, channel_id=channel, checklist_id=checklist_id
        )
        try:
            respond(
                **checklist_message(checklist, ticked=ticked, head_count=head_count),
                replace_original=True,
                response_type="ephemeral",
            )
        except Exception:  # the tick is saved; only the redraw failed
            log.warning("could not redraw checklist %s in %s", checklist_id, channel, exc_info=True)

    return handle_checklist_tick
