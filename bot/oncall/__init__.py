"""On-call alarms in chat: CloudWatch alarms from SNS become posts, with Acknowledge and Mute buttons.

``alarm_intake`` posts (one root per episode), ``alarm_posts`` holds the pure pieces, ``alarm_buttons``
handles clicks, ``alarm_context`` is their signed context. The formatting itself is the ``alarms``
library. It imports nothing from ``bot.access`` (pyproject.toml, ``[tool.importlinter]``).
"""
