"""Schemathesis over the support desk operations with ids that exist, as staff and as
a requester, so that their success responses are checked against the document too
(the general run in ``test_web_schemathesis.py`` reaches them with made-up ids)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
import trio
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from .support_helpers import open_ticket, reply, staff_session
from .test_web_schemathesis import property_test
from .web_helpers import auth, run_web


def fuzz_support(base_url: str, headers: dict[str, str], ids: dict[str, str]) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    failures: list[str] = []
    operations = [
        result.ok()
        for result in schema.get_all_operations()
        if result.ok().path.startswith("/api/support/")
    ]
    assert len(operations) >= 22
    for operation in operations:
        names = [name for name in ids if "{" + name + "}" in operation.path]
        variants: list[dict[str, str] | None] = [None]
        if names and operation.method.upper() != "DELETE":
            variants.append({name: ids[name] for name in names})
        for path_parameters in variants:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategy = operation.as_strategy(
                    generation_mode=mode, path_parameters=path_parameters
                )
                try:
                    property_test(base_url, operation, strategy, lambda _op: headers)()
                except Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE, operation.path
                except (Exception, BaseExceptionGroup) as exc:
                    name = f"{operation.method.upper()} {operation.path} ({mode.value})"
                    failures.append(f"{name} {path_parameters or ''}: {exc}")
    return failures


async def _ids(web: Any, staff: dict[str, Any], requester: dict[str, Any]) -> dict[str, str]:
    ticket = await open_ticket(web, requester)
    await reply(web, staff, ticket["id"], "hello")
    attachment = await web.client.post(
        f"/api/support/tickets/{ticket['id']}/attachments/",
        files={"file": ("log.txt", b"a log line\n", "text/plain")},
        headers=auth(requester),
    )
    category = await web.client.post(
        "/api/support/faq/categories/", json={"name": "General"}, headers=auth(staff)
    )
    entry = await web.client.post(
        "/api/support/faq/",
        json={"category_id": category.json()["id"], "question": "Q?", "answer": "*A*"},
        headers=auth(staff),
    )
    feedback = await web.client.post(
        "/api/support/feedback/",
        json={"title": "Idea", "description": "More"},
        headers=auth(requester),
    )
    return {
        "ticket_id": str(ticket["id"]),
        "attachment_id": str(attachment.json()["id"]),
        "category_id": str(category.json()["id"]),
        "entry_id": str(entry.json()["id"]),
        "feedback_id": str(feedback.json()["id"]),
    }


async def test_schemathesis_on_support_operations_as_staff(db_path: Path) -> None:
    async with run_web(db_path) as web:
        staff = await staff_session(web, "Fuzzer", role="admin")
        requester = await web.register("Requester")
        ids = await _ids(web, staff, requester)
        failures = await trio.to_thread.run_sync(fuzz_support, web.url, auth(staff), ids)
        print("\n\n".join(failures))
        assert failures == [], "\n\n".join(failures)
        assert (await web.client.get("/api/support/faq/")).status_code == 200


async def test_schemathesis_on_support_operations_as_requester(db_path: Path) -> None:
    async with run_web(db_path) as web:
        staff = await staff_session(web, "Staff")
        requester = await web.register("Fuzzer")
        ids = await _ids(web, staff, requester)
        failures = await trio.to_thread.run_sync(fuzz_support, web.url, auth(requester), ids)
        print("\n\n".join(failures))
        assert failures == [], "\n\n".join(failures)
        # The staff's reply is still there and the requester still sees no notes.
        detail = await web.client.get(
            f"/api/support/tickets/{ids['ticket_id']}/", headers=auth(requester)
        )
        assert all(not m["is_internal"] for m in detail.json()["messages"])
