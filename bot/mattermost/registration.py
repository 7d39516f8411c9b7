"""Register or update ``/jit`` at start-up when the bot may; otherwise print what to enter by hand."""

from __future__ import annotations

import logging
from typing import Any

from bot.commands.parsing import AUTOCOMPLETE_DESC, AUTOCOMPLETE_HINT
from bot.mattermost.client import MattermostClient, MattermostUnavailable

log = logging.getLogger("bot.registration")


def command_definition(team_id: str, trigger: str, public_url: str) -> dict[str, Any]:
    """The whole command object (update is a full replacement: docs/architecture.md, "Slash commands")."""
    return {
        "team_id": team_id,
        "trigger": trigger,
        "method": "P",
        "url": public_url + "/mattermost/command",
        "display_name": "JIT access",
        "description": "Just-in-time AWS access, approved in chat",
        "auto_complete": True,
        "auto_complete_desc": AUTOCOMPLETE_DESC,
        "auto_complete_hint": AUTOCOMPLETE_HINT,
        "username": "",
        "icon_url": "",
    }


def manual_instructions(definition: dict[str, Any]) -> str:
    lines = [
        "The bot may not register its slash command (it needs manage_own_slash_commands on the team).",
        "Create it by hand (Integrations > Slash Commands > Add) with exactly these values,",
        "then give the bot the command's token as BOT_COMMAND_TOKEN:",
        f"  Trigger word:            {definition['trigger']}",
        f"  Request URL:             {definition['url']}",
        "  Request method:          POST",
        f"  Autocomplete:            on, hint '{definition['auto_complete_hint']}'",
        f"  Autocomplete description: {definition['auto_complete_desc']}",
        f"  Title / description:     {definition['display_name']} / {definition['description']}",
    ]
    return "\n".join(lines)


async def ensure_command(mm: MattermostClient, team_id: str, trigger: str, public_url: str) -> str | None:
    """The command's token after registering or updating it, or None when the bot may not."""
    definition = command_definition(team_id, trigger, public_url)
    try:
        existing = next((c for c in await mm.list_commands(team_id) if c.get("trigger") == trigger), None)
        if existing is None:
            created = await mm.create_command(definition)
            log.info("registered /%s at %s", trigger, definition["url"])
            return str(created["token"])
        updated = await mm.update_command(str(existing["id"]), definition | {"id": existing["id"]})
        log.info("updated /%s to %s", trigger, definition["url"])
        return str(updated.get("token") or existing["token"])
    except MattermostUnavailable as error:
        # 403 without manage_own_slash_commands; 400 when someone else already owns the trigger.
        log.warning("could not register /%s (%s)\n%s", trigger, error, manual_instructions(definition))
        return None
