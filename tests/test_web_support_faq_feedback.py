"""The FAQ and the feedback board over REST: categories in order, Markdown answers
sanitised against hostile input, drafts, search, view counts, helpful votes, and
feedback votes that stay exact under concurrency."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import trio

from admin_app.support.markdown import ALLOWED_TAGS, render_markdown

from .support_helpers import staff_session
from .web_helpers import WebHandle, assert_error, auth, run_web

HOSTILE_MARKDOWN = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    '<a href="https://e.org" onclick="alert(1)">x</a>',
    "<style>body{display:none}</style>",
    "<iframe src=https://evil.example></iframe>",
    "<svg><script>alert(1)</script></svg>",
    '[x](https://e.org "title" onmouseover=alert(1))',
    "<details open ontoggle=alert(1)>",
    "`<script>` in code",
]


class _Elements(HTMLParser):
    """Every element and attribute of an HTML fragment, as a browser would parse it."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


@pytest.mark.parametrize("source", HOSTILE_MARKDOWN)
def test_markdown_never_yields_script(source: str) -> None:
    html = render_markdown(source)
    parser = _Elements()
    parser.feed(html)
    for tag, attrs in parser.found:
        assert tag in ALLOWED_TAGS, html
        for name, value in attrs:
            assert name in ("href", "title", "rel", "start"), html
            if name == "href":
                assert (value or "").split(":", 1)[0].lower() in ("http", "https", "mailto"), html


def test_markdown_keeps_what_answers_need() -> None:
    html = render_markdown(
        "## Steps\n\n1. Open **Settings**\n2. Press `Sync`\n\n"
        "See [the guide](https://example.org/guide).\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert "<h2>Steps</h2>" in html
    assert "<ol>" in html
    assert "<strong>Settings</strong>" in html
    assert "<code>Sync</code>" in html
    assert 'href="https://example.org/guide"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert "<table>" in html


async def _category(web: WebHandle, staff: dict[str, Any], name: str, position: int) -> int:
    response = await web.client.post(
        "/api/support/faq/categories/",
        json={"name": name, "position": position},
        headers=auth(staff),
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _entry(web: WebHandle, staff: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = await web.client.post("/api/support/faq/", json=body, headers=auth(staff))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_faq_categories_entries_search_and_drafts(db_path: Path) -> None:
    async with run_web(db_path) as web:
        staff = await staff_session(web)
        ann = await web.register("Ann")
        later = await _category(web, staff, "Rooms", 2)
        first = await _category(web, staff, "Accounts", 1)
        assert_error(
            await web.client.post(
                "/api/support/faq/categories/", json={"name": "rooms"}, headers=auth(staff)
            ),
            409,
            "category_exists",
        )
        a = await _entry(
            web,
            staff,
            category_id=later,
            question="How do I invite friends?",
            answer="Share the **room link**. <script>alert(1)</script>",
        )
        assert "<strong>room link</strong>" in a["answer_html"]
        assert "<script>" not in a["answer_html"]
        b = await _entry(
            web, staff, category_id=first, question="How do I reset my password?", answer="Ask."
        )
        draft = await _entry(
            web, staff, category_id=first, question="Secret plans", answer="x", is_published=False
        )

        public = (await web.client.get("/api/support/faq/")).json()
        assert [e["id"] for e in public["results"]] == [b["id"], a["id"]]  # category order
        categories = (await web.client.get("/api/support/faq/categories/")).json()
        assert [(c["name"], c["entry_count"]) for c in categories] == [
            ("Accounts", 1),
            ("Rooms", 1),
        ]
        found = await web.client.get("/api/support/faq/search/", params={"search": "INVITE"})
        assert [e["id"] for e in found.json()["results"]] == [a["id"]]
        by_cat = await web.client.get("/api/support/faq/", params={"category": later})
        assert [e["id"] for e in by_cat.json()["results"]] == [a["id"]]

        # Drafts: staff only.
        assert_error(await web.client.get(f"/api/support/faq/{draft['id']}/"), 404, "faq_not_found")
        assert_error(
            await web.client.get(f"/api/support/faq/{draft['id']}/", headers=auth(ann)), 404
        )
        assert (
            await web.client.get(f"/api/support/faq/{draft['id']}/", headers=auth(staff))
        ).status_code == 200
        assert_error(
            await web.client.get("/api/support/faq/", params={"include_drafts": "true"}), 403
        )
        with_drafts = await web.client.get(
            "/api/support/faq/", params={"include_drafts": "true"}, headers=auth(staff)
        )
        assert with_drafts.json()["count"] == 3

        # Staff-only writes.
        for method, path, body in (
            ("POST", "/api/support/faq/", {"category_id": first, "question": "q", "answer": "a"}),
            ("PATCH", f"/api/support/faq/{a['id']}/", {"question": "q"}),
            ("DELETE", f"/api/support/faq/{a['id']}/", None),
            ("POST", "/api/support/faq/categories/", {"name": "New"}),
            ("PATCH", f"/api/support/faq/categories/{first}/", {"name": "New"}),
            ("DELETE", f"/api/support/faq/categories/{first}/", None),
        ):
            response = await web.client.request(method, path, json=body, headers=auth(ann))
            assert_error(response, 403, "staff_only")
            assert_error(await web.client.request(method, path, json=body), 401)

        # Edit re-renders; publish; category rules.
        edited = await web.client.patch(
            f"/api/support/faq/{draft['id']}/",
            json={"answer": "[x](javascript:alert(1)) *now*", "is_published": True},
            headers=auth(staff),
        )
        assert edited.status_code == 200, edited.text
        assert "href" not in edited.json()["answer_html"]
        assert "<em>now</em>" in edited.json()["answer_html"]
        assert (await web.client.get(f"/api/support/faq/{draft['id']}/")).status_code == 200
        assert_error(
            await web.client.patch(
                f"/api/support/faq/{draft['id']}/", json={"category_id": 999}, headers=auth(staff)
            ),
            404,
            "category_not_found",
        )
        assert_error(
            await web.client.delete(f"/api/support/faq/categories/{first}/", headers=auth(staff)),
            409,
            "category_not_empty",
        )
        renamed = await web.client.patch(
            f"/api/support/faq/categories/{first}/",
            json={"name": "Your account", "position": 5},
            headers=auth(staff),
        )
        assert renamed.json()["name"] == "Your account"
        assert (
            await web.client.delete(f"/api/support/faq/{b['id']}/", headers=auth(staff))
        ).status_code == 204
        assert (
            await web.client.delete(f"/api/support/faq/{draft['id']}/", headers=auth(staff))
        ).status_code == 204
        assert (
            await web.client.delete(f"/api/support/faq/categories/{first}/", headers=auth(staff))
        ).status_code == 204
        assert_error(
            await web.client.delete(f"/api/support/faq/categories/{first}/", headers=auth(staff)),
            404,
        )


async def test_faq_views_and_helpful_votes(db_path: Path) -> None:
    async with run_web(db_path) as web:
        staff = await staff_session(web)
        ann = await web.register("Ann")
        bob = await web.register("Bob")
        cat = await _category(web, staff, "General", 0)
        entry = await _entry(web, staff, category_id=cat, question="Q?", answer="A.")
        path = f"/api/support/faq/{entry['id']}/"
        for expected in (1, 2, 3):
            assert (await web.client.get(path)).json()["view_count"] == expected

        async def vote(session: dict[str, Any], helpful: bool | None) -> dict[str, Any]:
            response = await web.client.post(
                f"{path}helpful/", json={"helpful": helpful}, headers=auth(session)
            )
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        assert (await vote(ann, True))["helpful_count"] == 1
        same = await vote(ann, True)  # a second vote replaces, never adds
        assert (same["helpful_count"], same["not_helpful_count"]) == (1, 0)
        changed = await vote(ann, False)
        assert (changed["helpful_count"], changed["not_helpful_count"]) == (0, 1)
        assert changed["my_vote"] is False
        await vote(bob, True)
        back = await vote(ann, None)
        assert (back["helpful_count"], back["not_helpful_count"]) == (1, 0)
        mine = (await web.client.get(path, headers=auth(bob))).json()
        assert mine["my_vote"] is True
        assert_error(await web.client.post(f"{path}helpful/", json={"helpful": True}), 401)
        assert_error(
            await web.client.post(f"{path}helpful/", json={"helpful": "yes"}, headers=auth(ann)),
            422,
        )
        assert_error(
            await web.client.post(
                "/api/support/faq/424242/helpful/", json={"helpful": True}, headers=auth(ann)
            ),
            404,
            "faq_not_found",
        )


async def test_feedback_board(db_path: Path) -> None:
    async with run_web(db_path) as web:
        staff = await staff_session(web)
        ann = await web.register("Ann")
        bob = await web.register("Bob")
        guest = await web.guest("Visitor")

        async def post(session: dict[str, Any], **body: Any) -> dict[str, Any]:
            response = await web.client.post(
                "/api/support/feedback/", json=body, headers=auth(session)
            )
            assert response.status_code == 201, response.text
            return response.json()  # type: ignore[no-any-return]

        idea = await post(ann, kind="feature", title="Subtitles", description="Please")
        bug = await post(guest, kind="bug", title="<b>Crash</b>", description="On join")
        assert idea["status"] == "new"
        assert idea["vote_count"] == 0
        assert bug["title"] == "<b>Crash</b>"
        assert_error(
            await web.client.post(
                "/api/support/feedback/", json={"title": "x", "description": "y"}
            ),
            401,
        )
        assert_error(
            await web.client.post(
                "/api/support/feedback/",
                json={"kind": "rant", "title": "x", "description": "y"},
                headers=auth(ann),
            ),
            422,
        )

        async def vote(session: dict[str, Any], feedback_id: int) -> Any:
            return await web.client.post(
                f"/api/support/feedback/{feedback_id}/vote/", headers=auth(session)
            )

        assert (await vote(bob, bug["id"])).json() == {"voted": True, "vote_count": 1}
        assert (await vote(ann, bug["id"])).json() == {"voted": True, "vote_count": 2}
        assert (await vote(ann, bug["id"])).json() == {"voted": False, "vote_count": 1}
        assert_error(await vote(guest, bug["id"]), 403, "guest_not_allowed")
        assert_error(await vote(ann, 987654), 404, "feedback_not_found")
        assert_error(await web.client.post(f"/api/support/feedback/{bug['id']}/vote/"), 401)

        board = (await web.client.get("/api/support/feedback/", headers=auth(bob))).json()
        assert [(f["id"], f["vote_count"], f["has_voted"]) for f in board["results"]] == [
            (bug["id"], 1, True),
            (idea["id"], 0, False),
        ]
        newest = await web.client.get("/api/support/feedback/", params={"ordering": "-created"})
        assert [f["id"] for f in newest.json()["results"]] == [bug["id"], idea["id"]]
        bugs = await web.client.get("/api/support/feedback/", params={"kind": "bug"})
        assert [f["id"] for f in bugs.json()["results"]] == [bug["id"]]

        # Staff set the status.
        assert_error(
            await web.client.patch(
                f"/api/support/feedback/{idea['id']}/", json={"status": "done"}, headers=auth(ann)
            ),
            403,
            "staff_only",
        )
        planned = await web.client.patch(
            f"/api/support/feedback/{idea['id']}/",
            json={"status": "planned", "staff_response": "Next release"},
            headers=auth(staff),
        )
        assert planned.json()["status"] == "planned"
        assert planned.json()["staff_response"] == "Next release"
        assert_error(
            await web.client.patch(
                f"/api/support/feedback/{idea['id']}/",
                json={"status": "maybe"},
                headers=auth(staff),
            ),
            422,
        )
        filtered = await web.client.get("/api/support/feedback/", params={"status": "planned"})
        assert [f["id"] for f in filtered.json()["results"]] == [idea["id"]]
        one = await web.client.get(f"/api/support/feedback/{idea['id']}/")
        assert one.json()["status"] == "planned"
        assert_error(await web.client.get("/api/support/feedback/5555/"), 404, "feedback_not_found")


async def test_feedback_votes_are_exact_under_concurrency(db_path: Path) -> None:
    """Many accounts vote at once, and some vote twice at once: each account ends
    with one vote or none, and the count is exactly the number of votes held."""
    async with run_web(db_path) as web:
        voters = [await web.register(f"Voter {i}") for i in range(12)]
        item = (
            await web.client.post(
                "/api/support/feedback/",
                json={"title": "Dark mode", "description": "please"},
                headers=auth(voters[0]),
            )
        ).json()
        path = f"/api/support/feedback/{item['id']}/vote/"
        results: list[bool] = []

        async def vote(session: dict[str, Any]) -> None:
            response = await web.client.post(path, headers=auth(session))
            assert response.status_code == 200, response.text
            results.append(response.json()["voted"])

        async with trio.open_nursery() as nursery:
            for session in voters:
                nursery.start_soon(vote, session)
            for session in voters[:4]:  # these toggle twice: back to no vote
                nursery.start_soon(vote, session)
        final = (await web.client.get(f"/api/support/feedback/{item['id']}/")).json()
        assert final["vote_count"] == 8
        assert results.count(True) == 12
        assert results.count(False) == 4
        votes = await web.db.read(
            lambda conn: conn.execute(
                "SELECT count(*), count(DISTINCT user_id) FROM feedback_votes"
            ).fetchone()
        )
        assert tuple(votes) == (8, 8)
