"""Schemathesis over the video operations with ids that exist, so that their
success responses are checked against the document too (the general run in
``test_web_schemathesis.py`` only reaches them with made-up ids: 404s).

The stream and download endpoints are documented with ``video/*`` responses and
their ``Range`` and conditional headers (``admin_app.core.openapi.documents_file``), so
the fuzzer throws arbitrary ranges and validators at them. Uploads are documented
as ``multipart/form-data`` and fuzzed here and in the general run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
import trio
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from .test_web_schemathesis import property_test
from .video_helpers import make_admin, run_videos, uploaded
from .web_helpers import auth


def fuzz_videos(base_url: str, headers: dict[str, str], ids: dict[str, str]) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    failures: list[str] = []
    operations = [
        result.ok()
        for result in schema.get_all_operations()
        if result.ok().path.startswith(("/api/videos", "/api/admin/users"))
    ]
    assert len(operations) >= 20
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


async def test_schemathesis_on_video_operations_with_real_ids(db_path: Path) -> None:
    async with run_videos(db_path) as web:
        admin = await make_admin(web, "Fuzzer")
        video = await uploaded(web, admin, title="Fuzzed", allow_download=True)
        comment = await web.client.post(
            f"/api/videos/{video['id']}/comments/", json={"content": "hi"}, headers=auth(admin)
        )
        ids: dict[str, Any] = {
            "video_id": video["id"],
            "comment_id": str(comment.json()["id"]),
            "user_id": admin["user"]["id"],
        }
        failures = await trio.to_thread.run_sync(fuzz_videos, web.url, auth(admin), ids)
        print("\n\n".join(failures))
        assert failures == [], "\n\n".join(failures)
        assert (await web.client.get(f"/api/videos/{video['id']}/")).status_code == 200
