"""Schemathesis over the event operations with ids that exist (an event the fuzzer
organizes, an invitation and a reminder of it), so that their success responses are
checked against the document too; ``test_web_schemathesis.py`` reaches them with
made-up ids only. Deleting and cancelling run with made-up ids only, so that the
event stays for the other operations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
import trio
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from .event_helpers import create_event
from .test_web_schemathesis import property_test
from .web_helpers import auth, run_web


def fuzz_events(base_url: str, headers: dict[str, str], ids: dict[str, str]) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    failures: list[str] = []
    operations = [
        result.ok()
        for result in schema.get_all_operations()
        if result.ok().path.startswith("/api/events")
    ]
    assert len(operations) >= 25
    for operation in operations:
        names = [name for name in ids if "{" + name + "}" in operation.path]
        variants: list[dict[str, str] | None] = [None]
        keeps = operation.method.upper() != "DELETE" and not operation.path.endswith("/cancel/")
        if names and keeps:
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


async def test_schemathesis_on_event_operations_with_real_ids(db_path: Path) -> None:
    async with run_web(db_path) as web:
        fuzzer = await web.register("Fuzzer")
        guest = await web.register("Invited")
        event = await create_event(web, fuzzer, start_h=24 * 30, hours=3, max_attendees=50)
        url = f"/api/events/{event['id']}/"
        invited = await web.client.post(
            f"{url}invitations/", json={"user_ids": [guest["user"]["id"]]}, headers=auth(fuzzer)
        )
        reminder = await web.client.post(
            f"{url}reminders/", json={"minutes_before": 30}, headers=auth(fuzzer)
        )
        assert reminder.status_code == 201, reminder.text
        ids: dict[str, Any] = {
            "event_id": event["id"],
            "invitation_id": str(invited.json()["results"][0]["id"]),
            "reminder_id": str(reminder.json()["id"]),
            "user_id": guest["user"]["id"],
        }
        failures = await trio.to_thread.run_sync(fuzz_events, web.url, auth(fuzzer), ids)
        print("\n\n".join(failures))
        assert failures == [], "\n\n".join(failures)
        assert (await web.client.get(url)).status_code == 200
