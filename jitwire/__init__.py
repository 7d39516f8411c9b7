"""The wire between the bot and the backend: the shapes, names and text rules both sides share.

The bottom layer: it imports none of ``bot``, ``backend``, ``alarms`` or ``sandbox`` (the import
contracts in pyproject.toml hold that), and nothing heavier than pydantic and the standard library
(matplotlib only inside ``report.timeline_png``, when a picture is drawn).
"""
