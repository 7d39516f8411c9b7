"""Access requests in chat: the approval card and its buttons, the requester's DMs, lifecycle events.

The backend owns every request; this package renders what the backend says (``posts``, ``cards``),
turns clicks into decisions (``clicks``, ``action_context``) and lifecycle events into edits and DMs
(``lifecycle_events``). ``services.AccessServices`` is what the handlers share. It imports nothing
from ``bot.oncall`` (pyproject.toml, ``[tool.importlinter]``).
"""
