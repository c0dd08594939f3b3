"""Share a checklist (with the sharer's ticks) with the channel."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.blocks import shared_checklist_message
from bot.slack.deps import BotDeps
from bot.slack.text import channel_of_action
from bot.slack.workspaces import team_of

log = logging.getLogger(__name__)
_NOT_MEMBER = {"not_in_channel", "channel_not_found", "is_archived"}


def make_checklist_share_handler(deps: BotDeps) -> Callable[..., None]:
    def handle_checklist_share(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        respond: Respond,
        context: Any,
    ) -> None:
        ack()
        checklist_id, _, head = str(action.get("value", "")).partition("|")
        checklist = deps.services.checklists.get(checklist_id)
        if checklist is None:
            respond(
                text="That checklist no longer exists.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        user, channel = body["user"]["id"], channel_of_action(body)
        ticked = deps.storage.checklists.ticked_items(
            team_id=team_of(context), user_id=user, channel_id=channel, checklist_id=checklist_id
        )
        message = shared_checklist_message(
            checklist, ticked=ticked, user_id=user, head_count=int(head) if head.isdigit() else None
        )
        try:
            client.chat_postMessage(channel=channel, **message)
        except SlackApiError as exc:
            error = exc.response.get("error", "")
            log.warning("sharing checklist in %s failed: %s", channel, error)
            text = (
                "I can't post in this channel yet. Invite me with `/invite @ML Leaders Bot` "
                "and share again."
                if error in _NOT_MEMBER
                else "Sorry, I couldn't share the checklist. Please try again."
            )
            respond(text=text, response_type="ephemeral", replace_original=False)
            return
        respond(text="Shared with the channel.", response_type="ephemeral", replace_original=False)

    return handle_checklist_share
