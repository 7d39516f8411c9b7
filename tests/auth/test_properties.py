"""Property: whatever is signed verifies; any single-byte change to the body does not."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.auth.errors import AuthenticationFailed, AuthReason
from tests.auth.helpers import make_harness, signed_request

_segment = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="/"), min_size=1, max_size=12)
paths = st.lists(_segment, min_size=0, max_size=5).map(lambda parts: "/" + "/".join(parts))
queries = st.lists(
    st.tuples(st.text(max_size=8), st.text(max_size=8)),
    max_size=6,
)
bodies = st.binary(min_size=1, max_size=2048)
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "post"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=methods, path=paths, query=queries, body=bodies, data=st.data())
def test_signed_requests_verify_and_body_mutations_do_not(
    method: str, path: str, query: list[tuple[str, str]], body: bytes, data: st.DataObject
) -> None:
    harness = make_harness()
    req = signed_request(harness.signer(), method=method, path=path, query=query, body=body)

    index = data.draw(st.integers(min_value=0, max_value=len(body) - 1), label="index")
    replacement = data.draw(st.integers(min_value=0, max_value=255).filter(lambda b: b != body[index]), label="byte")
    mutated = body[:index] + bytes([replacement]) + body[index + 1 :]
    with pytest.raises(AuthenticationFailed) as caught:
        harness.verifier.verify(req.model_copy(update={"body": mutated}))
    assert caught.value.reason is AuthReason.BAD_SIGNATURE

    # The failed attempt burnt no nonce: the untouched request still verifies, exactly once.
    assert harness.verifier.verify(req).key_id == "bot-2026-11"
    assert harness.nonces.items.keys() == {f"bot-2026-11#{dict(req.headers)['X-JIT-Nonce']}"}


@settings(max_examples=100, deadline=None)
@given(query=queries.filter(lambda q: len(q) >= 2), data=st.data())
def test_query_permutations_are_the_same_request(query: list[tuple[str, str]], data: st.DataObject) -> None:
    harness = make_harness()
    req = signed_request(harness.signer(), method="GET", path="/requests", query=query, body=b"")
    permuted = data.draw(st.permutations(query), label="permuted")
    assert harness.verifier.verify(req.model_copy(update={"query": permuted})).key_id == "bot-2026-11"
