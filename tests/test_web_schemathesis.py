"""Property-based API testing with schemathesis against the live ``/api/openapi.json``.

For every operation, schemathesis generates requests from the document (valid ones,
then invalid ones) and checks every response: no 5xx, a status the document lists,
the documented content type, and a body and headers that match the documented
schemas. Examples are bounded and derandomized so the run is deterministic and takes
well under a minute.

Schemathesis and Hypothesis are synchronous (``requests``), so they run in a worker
thread while the server runs on the trio loop.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import schemathesis
import trio
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .web_helpers import WebHandle, auth, run_web

EXAMPLES_PER_MODE = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def fuzz(base_url: str, headers_for: Any, room_code: str) -> list[str]:
    """Run schemathesis over every operation; return a description of each failure.

    Operations on ``/api/rooms/{room_id}/...`` run twice: with generated room ids
    (almost always unknown rooms) and with *room_code*, a live room the caller owns,
    so that their success responses are checked too.
    """
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    for operation in operations:
        variants: list[dict[str, str] | None] = [None]
        if "{room_id}" in operation.path:
            variants.append({"room_id": room_code})
        for path_parameters in variants:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategy = operation.as_strategy(
                    generation_mode=mode, path_parameters=path_parameters
                )
                try:
                    property_test(base_url, operation, strategy, headers_for)()
                except Unsatisfiable:
                    # Nothing in this operation can be made invalid (no body, no
                    # constrained parameter): there is no negative test to run.
                    assert mode is GenerationMode.NEGATIVE, operation.path
                except (Exception, BaseExceptionGroup) as exc:  # collect them all, then report
                    name = f"{operation.method.upper()} {operation.path} ({mode.value})"
                    failures.append(f"{name} {path_parameters or ''}: {exc}")
    return failures


def property_test(
    base_url: str, operation: Any, strategy: Any, headers_for: Any
) -> Callable[[], None]:
    """A Hypothesis test of *operation* with requests drawn from *strategy*."""

    @settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers_for(operation), timeout=30)
        case.validate_response(response, checks=CHECKS)

    return check  # type: ignore[no-any-return]


async def test_schemathesis_finds_no_server_errors_or_schema_violations(db_path: Path) -> None:
    async with run_web(db_path) as web:
        session = await web.register("Fuzzer")
        room = await web.create_room(session, media={"url": "https://example.org/v.mp4"})
        web.rooms.add_participant(
            room["code"], "Fuzzer", user_id=session["user"]["id"], role="host"
        )

        def headers_for(operation: Any) -> dict[str, str]:
            if operation.path == "/api/auth/logout/":
                # A fresh token each time, so that logging out does not sign the
                # fuzzer out of every other operation.
                return auth(fresh_token(web, session))
            return auth(session)

        failures = await trio.to_thread.run_sync(fuzz, web.url, headers_for, room["code"])
        print("\n\n".join(failures))
        assert failures == [], "\n\n".join(failures)
        # The server is still healthy afterwards.
        assert (await web.client.get("/api/health/")).status_code == 200


def fresh_token(web: WebHandle, session: dict[str, Any]) -> str:
    return web.token(session["user"]["id"], "Fuzzer")
