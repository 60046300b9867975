"""Helpers for the support desk tests: accounts with roles, tickets."""

from __future__ import annotations

from typing import Any

from data import users as user_store

from .web_helpers import WebHandle, auth


async def staff_session(
    web: WebHandle, name: str = "Sam Staff", role: str = "staff"
) -> dict[str, Any]:
    """Register an account and give it *role* (``staff`` or ``admin``)."""
    session = await web.register(name)
    await web.db.write(user_store.set_user_role, session["user"]["id"], role)
    session["user"]["role"] = role
    return session


async def open_ticket(web: WebHandle, session: dict[str, Any], **body: Any) -> dict[str, Any]:
    """Open a ticket as *session*; returns the 201 body."""
    body.setdefault("subject", "The video stutters")
    body.setdefault("description", "Since yesterday every room stutters at 20 minutes.")
    response = await web.client.post("/api/support/tickets/", json=body, headers=auth(session))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def reply(
    web: WebHandle, session: dict[str, Any], ticket_id: int, body: str, **extra: Any
) -> Any:
    return await web.client.post(
        f"/api/support/tickets/{ticket_id}/reply/",
        json={"body": body, **extra},
        headers=auth(session),
    )
