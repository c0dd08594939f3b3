"""A checkbox on a checklist item: the tick is saved per person and channel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack

from bot.deps import BotDeps
from bot.slack_text import channel_of_action


def make_checklist_tick_handler(deps: BotDeps) -> Callable[..., None]:
    def handle_checklist_tick(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        parts = str(action.get("block_id", "")).split("|")
        if len(parts) != 3 or parts[0] != "chk":
            return
        _, checklist_id, item_id = parts
        checklist = deps.services.checklists.get(checklist_id)
        if checklist is None or item_id not in {i.id for i in checklist.all_items()}:
            return  # an old message whose checklist or item no longer exists
        selected = {o.get("value") for o in action.get("selected_options") or []}
        deps.storage.set_tick(
            user_id=body["user"]["id"],
            channel_id=channel_of_action(body),
            checklist_id=checklist_id,
            item_id=item_id,
            ticked=item_id in selected,
        )

    return handle_checklist_tick
