"""The ways a person asks the bot: ``/jit`` text, a direct message to the bot, the request form.

Each parses at the edge and hands over to ``run.execute``, which acts through ``bot.access``.
"""
