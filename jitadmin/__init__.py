"""``jit-admin``: the operator's command line. It talks to AWS directly (no API, no bot), so it
works when either is down: break-glass revoke, request listings, reconcile now, key rotation and
policy changes.
"""
