"""Schemathesis over the social group operations with ids that exist (a group the
caller owns, a member, a post, an invitation and a join request), so that their
success responses are checked against the document too; the general run in
``test_web_schemathesis.py`` reaches them with made-up ids only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
import trio
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from .test_web_schemathesis import property_test
from .web_helpers import auth, run_web

G = "/api/social/groups"


def fuzz_groups(base_url: str, headers: dict[str, str], ids: dict[str, str]) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    failures: list[str] = []
    operations = [
        result.ok()
        for result in schema.get_all_operations()
        if result.ok().path.startswith("/api/social/")
    ]
    assert len(operations) >= 30
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


async def test_schemathesis_on_group_operations_with_real_ids(db_path: Path) -> None:
    async with run_web(db_path) as web:
        owner = await web.register("Fuzzer")
        other = await web.register("Other")
        asker = await web.register("Asker")
        group = (
            await web.client.post(f"{G}/", json={"name": "Fuzzed"}, headers=auth(owner))
        ).json()
        await web.client.post(f"{G}/{group['id']}/join/", headers=auth(other))
        post = await web.client.post(
            f"{G}/{group['id']}/posts/", json={"content": "hi"}, headers=auth(owner)
        )
        invitation = await web.client.post(
            f"{G}/{group['id']}/invitations/",
            json={"user_id": asker["user"]["id"]},
            headers=auth(owner),
        )
        private = (
            await web.client.post(
                f"{G}/", json={"name": "Closed", "privacy": "private"}, headers=auth(owner)
            )
        ).json()
        request = await web.client.post(
            f"{G}/{private['id']}/join-requests/", json={}, headers=auth(asker)
        )
        ids: dict[str, Any] = {
            "group_id": str(group["id"]),
            "user_id": other["user"]["id"],
            "post_id": str(post.json()["id"]),
            "invitation_id": str(invitation.json()["id"]),
            "request_id": str(request.json()["id"]),
        }
        failures = await trio.to_thread.run_sync(fuzz_groups, web.url, auth(owner), ids)
        print("\n\n".join(failures))
        assert failures == [], "\n\n".join(failures)
        got = await web.client.get(f"{G}/{group['id']}/", headers=auth(owner))
        assert got.status_code in (200, 404)  # the fuzzer may have deleted it
