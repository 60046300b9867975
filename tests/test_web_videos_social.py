"""Comments (both of Watch Party's paths, replies, edits, permissions) and likes (the
exact Watch Party response, toggling, counts under concurrent requests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from .video_helpers import make_admin, run_videos, uploaded
from .web_helpers import WebHandle, assert_error, auth


@pytest.fixture
async def web(db_path: Path) -> AsyncIterator[WebHandle]:
    async with run_videos(db_path) as handle:
        yield handle


async def comment(
    web: WebHandle, session: dict[str, Any], video_id: str, content: str, **body: Any
) -> dict[str, Any]:
    response = await web.client.post(
        f"/api/videos/{video_id}/comments/",
        json={"content": content, **body},
        headers=auth(session),
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


# --- comments ------------------------------------------------------------------------------


async def test_comments_and_replies_on_both_paths(web: WebHandle) -> None:
    owner, alice, bob = [await web.register(n) for n in ("Owner", "Alice", "Bob")]
    video = await uploaded(web, owner)
    vid = video["id"]
    first = await comment(web, alice, vid, "  First!  ")
    assert first["content"] == "First!"
    assert first["user"] == {"id": alice["user"]["id"], "display_name": "Alice"}
    assert (first["parent_id"], first["is_edited"], first["likes_count"]) == (None, False, 0)
    assert first["replies"] == []
    web.clock.advance(1)
    # Watch Party's other path: video_id in the body.
    second = await web.client.post(
        "/api/videos/comments/", json={"video_id": vid, "content": "Second"}, headers=auth(bob)
    )
    assert second.status_code == 201, second.text
    reply = await comment(web, bob, vid, "A reply", parent_id=first["id"])
    assert reply["parent_id"] == first["id"]
    # A reply to a reply joins the thread of the first comment.
    nested = await web.client.post(
        "/api/videos/comments/",
        json={"video_id": vid, "content": "Reply to the reply", "parent_id": reply["id"]},
        headers=auth(alice),
    )
    assert nested.status_code == 201
    assert nested.json()["parent_id"] == first["id"]

    for url in (f"/api/videos/{vid}/comments/", f"/api/videos/comments/?video_id={vid}"):
        page = (await web.client.get(url)).json()
        assert page["count"] == 2  # threads
        threads = page["results"]
        assert [t["content"] for t in threads] == ["Second", "First!"]  # newest first
        assert [r["content"] for r in threads[1]["replies"]] == [
            "A reply",
            "Reply to the reply",
        ]  # oldest first
        assert threads[0]["replies"] == []
    assert (await web.client.get(f"/api/videos/{vid}/")).json()["comment_count"] == 4

    for url in (
        f"/api/videos/{vid}/comments/{first['id']}/",
        f"/api/videos/comments/{first['id']}/",
    ):
        one = await web.client.get(url)
        assert one.status_code == 200
        assert len(one.json()["replies"]) == 2
    single = (await web.client.get(f"/api/videos/comments/{reply['id']}/")).json()
    assert single["replies"] == []


async def test_comment_pagination(web: WebHandle) -> None:
    owner = await web.register()
    vid = (await uploaded(web, owner))["id"]
    for n in range(5):
        await comment(web, owner, vid, f"c{n}")
    page = (await web.client.get(f"/api/videos/{vid}/comments/?page_size=2&page=2")).json()
    assert page["count"] == 5
    assert [c["content"] for c in page["results"]] == ["c2", "c1"]
    assert page["next"] is not None
    assert page["previous"] is not None
    assert_error(await web.client.get(f"/api/videos/{vid}/comments/?page=4&page_size=2"), 404)


async def test_only_the_author_edits_and_author_or_admin_deletes(web: WebHandle) -> None:
    owner, author, other = [await web.register(n) for n in ("Owner", "Author", "Other")]
    admin = await make_admin(web)
    vid = (await uploaded(web, owner))["id"]
    mine = await comment(web, author, vid, "Original")
    url = f"/api/videos/{vid}/comments/{mine['id']}/"
    short = f"/api/videos/comments/{mine['id']}/"

    same = await web.client.put(url, json={"content": "Original"}, headers=auth(author))
    assert same.json()["is_edited"] is False  # nothing changed
    web.clock.advance(5)
    edited = await web.client.put(url, json={"content": "Edited"}, headers=auth(author))
    assert edited.status_code == 200
    body = edited.json()
    assert (body["content"], body["is_edited"]) == ("Edited", True)
    assert body["updated_at"] > body["created_at"]
    patched = await web.client.patch(short, json={"content": "Again"}, headers=auth(author))
    assert patched.json()["content"] == "Again"

    for session in (other, admin, owner):
        refused = await web.client.put(url, json={"content": "Mine"}, headers=auth(session))
        assert_error(refused, 403, "forbidden")
    assert_error(await web.client.put(url, json={"content": "x"}), 401)
    assert_error(await web.client.delete(short, headers=auth(other)), 403, "forbidden")
    assert_error(await web.client.put(url, json={"content": "   "}, headers=auth(author)), 422)

    reply = await comment(web, other, vid, "reply", parent_id=mine["id"])
    by_admin = await web.client.delete(f"/api/videos/comments/{reply['id']}/", headers=auth(admin))
    assert by_admin.status_code == 204
    await comment(web, other, vid, "another reply", parent_id=mine["id"])
    by_author = await web.client.delete(url, headers=auth(author))
    assert by_author.status_code == 204
    # The thread went with its replies.
    assert (await web.client.get(f"/api/videos/{vid}/comments/")).json()["count"] == 0
    assert (await web.client.get(f"/api/videos/{vid}/")).json()["comment_count"] == 0
    assert_error(await web.client.get(url), 404, "comment_not_found")


async def test_comment_errors(web: WebHandle) -> None:
    owner = await web.register()
    vid = (await uploaded(web, owner))["id"]
    other_vid = (await uploaded(web, owner))["id"]
    on_other = await comment(web, owner, other_vid, "elsewhere")
    get, post = web.client.get, web.client.post
    # A comment through another video's path is not found there.
    assert_error(await get(f"/api/videos/{vid}/comments/{on_other['id']}/"), 404)
    assert_error(await get("/api/videos/comments/999/"), 404, "comment_not_found")
    assert_error(await get("/api/videos/comments/99999999999999999999999/"), 404)
    assert_error(await get(f"/api/videos/{'0' * 32}/comments/"), 404, "video_not_found")
    cross = await post(
        f"/api/videos/{vid}/comments/",
        json={"content": "x", "parent_id": on_other["id"]},
        headers=auth(owner),
    )
    error = assert_error(cross, 404, "comment_not_found")
    assert error["details"][0]["field"] == "parent_id"
    assert_error(
        await post("/api/videos/comments/", json={"content": "x"}, headers=auth(owner)), 422
    )
    assert_error(
        await post(
            "/api/videos/comments/",
            json={"video_id": "f" * 32, "content": "x"},
            headers=auth(owner),
        ),
        404,
        "video_not_found",
    )
    assert_error(await post(f"/api/videos/{vid}/comments/", json={"content": "x"}), 401)
    for bad in ({"content": ""}, {"content": "x" * 5001}, {"content": 5}, {"text": "x"}):
        response = await post(f"/api/videos/{vid}/comments/", json=bad, headers=auth(owner))
        assert_error(response, 422, "validation_error")


async def test_comments_follow_the_video_visibility(web: WebHandle) -> None:
    owner, other = await web.register("Owner"), await web.register("Other")
    staff = await make_admin(web, "Staff", role="staff")
    public = (await uploaded(web, owner, title="Public"))["id"]
    private = (await uploaded(web, owner, title="Private", visibility="private"))["id"]
    unlisted = (await uploaded(web, owner, title="Unlisted", visibility="unlisted"))["id"]
    await comment(web, owner, public, "on public")
    secret = await comment(web, owner, private, "on private")
    await comment(web, other, unlisted, "on unlisted")  # anyone with the link
    get = web.client.get
    assert_error(await get(f"/api/videos/{private}/comments/"), 401)
    assert_error(await get(f"/api/videos/{private}/comments/", headers=auth(other)), 403)
    assert_error(await get(f"/api/videos/comments/?video_id={private}", headers=auth(other)), 403)
    assert_error(await get(f"/api/videos/comments/{secret['id']}/", headers=auth(other)), 403)
    refused = await web.client.post(
        f"/api/videos/{private}/comments/", json={"content": "hi"}, headers=auth(other)
    )
    assert_error(refused, 403, "private_video")

    def contents(response: Any) -> set[str]:
        return {c["content"] for c in response.json()["results"]}

    # Without video_id: threads on the videos the caller may list.
    assert contents(await get("/api/videos/comments/")) == {"on public"}
    assert contents(await get("/api/videos/comments/", headers=auth(other))) == {"on public"}
    assert contents(await get("/api/videos/comments/", headers=auth(owner))) == {
        "on public",
        "on private",
        "on unlisted",
    }
    assert len(contents(await get("/api/videos/comments/", headers=auth(staff)))) == 3


async def test_comment_likes(web: WebHandle) -> None:
    owner, fan = await web.register("Owner"), await web.register("Fan")
    vid = (await uploaded(web, owner))["id"]
    mine = await comment(web, owner, vid, "like me")
    url = f"/api/videos/comments/{mine['id']}/like/"
    liked = await web.client.post(url, headers=auth(fan))
    assert liked.json() == {"success": True, "is_liked": True, "like_count": 1}
    listed = (await web.client.get(f"/api/videos/{vid}/comments/", headers=auth(fan))).json()
    assert (listed["results"][0]["likes_count"], listed["results"][0]["is_liked"]) == (1, True)
    unliked = await web.client.post(url, headers=auth(fan))
    assert unliked.json() == {"success": True, "is_liked": False, "like_count": 0}
    assert_error(await web.client.post(url), 401)
    assert_error(await web.client.post("/api/videos/comments/4242/like/", headers=auth(fan)), 404)


# --- likes ---------------------------------------------------------------------------------


async def test_like_toggles_with_the_exact_response(web: WebHandle) -> None:
    owner, fan = await web.register("Owner"), await web.register("Fan")
    vid = (await uploaded(web, owner))["id"]
    url = f"/api/videos/{vid}/like/"

    async def react(is_like: bool, session: dict[str, Any] = fan) -> Any:
        response = await web.client.post(url, json={"is_like": is_like}, headers=auth(session))
        assert response.status_code == 200, response.text
        return response.json()

    async def counts() -> tuple[int, int, bool, bool]:
        video = (await web.client.get(f"/api/videos/{vid}/", headers=auth(fan))).json()
        return (
            video["like_count"],
            video["dislike_count"],
            video["is_liked"],
            video["is_disliked"],
        )

    assert await react(True) == {"success": True, "is_liked": True, "like_count": 1}
    assert await counts() == (1, 0, True, False)
    assert await react(True) == {"success": True, "is_liked": False, "like_count": 0}  # undo
    assert await counts() == (0, 0, False, False)
    assert await react(False) == {"success": True, "is_liked": False, "like_count": 0}
    assert await counts() == (0, 1, False, True)
    assert await react(True) == {"success": True, "is_liked": True, "like_count": 1}  # switch
    assert await counts() == (1, 0, True, False)
    assert await react(True, owner) == {"success": True, "is_liked": True, "like_count": 2}
    assert await react(False) == {"success": True, "is_liked": False, "like_count": 1}
    assert await react(False) == {"success": True, "is_liked": False, "like_count": 1}  # undo
    assert await counts() == (1, 0, False, False)


async def test_like_errors(web: WebHandle) -> None:
    owner, other = await web.register("Owner"), await web.register("Other")
    private = (await uploaded(web, owner, visibility="private"))["id"]
    public = (await uploaded(web, owner))["id"]
    post = web.client.post
    assert_error(await post(f"/api/videos/{public}/like/", json={"is_like": True}), 401)
    assert_error(
        await post(f"/api/videos/{'0' * 32}/like/", json={"is_like": True}, headers=auth(other)),
        404,
        "video_not_found",
    )
    assert_error(
        await post(f"/api/videos/{private}/like/", json={"is_like": True}, headers=auth(other)),
        403,
        "private_video",
    )
    for bad in ({}, {"is_like": "yes"}, {"is_like": 1}):
        response = await post(f"/api/videos/{public}/like/", json=bad, headers=auth(other))
        assert_error(response, 422, "validation_error")


async def test_concurrent_likes_keep_the_counts_right(web: WebHandle) -> None:
    owner = await web.register("Owner")
    vid = (await uploaded(web, owner))["id"]
    fans = [await web.register(f"Fan {n}") for n in range(20)]
    url = f"/api/videos/{vid}/like/"
    answers: list[dict[str, Any]] = []

    async def react(session: dict[str, Any], is_like: bool) -> None:
        response = await web.client.post(url, json={"is_like": is_like}, headers=auth(session))
        assert response.status_code == 200, response.text
        answers.append(response.json())

    async with trio.open_nursery() as nursery:
        for fan in fans:
            nursery.start_soon(react, fan, True)
    assert sorted(a["like_count"] for a in answers) == list(range(1, 21))
    assert all(a["is_liked"] for a in answers)

    # Twenty more at once: half take their like back, half switch to a dislike,
    # and one account sends the same like twice at once (a like, then its undo).
    answers.clear()
    async with trio.open_nursery() as nursery:
        for n, fan in enumerate(fans):
            nursery.start_soon(react, fan, n % 2 == 0)
        nursery.start_soon(react, owner, True)
        nursery.start_soon(react, owner, True)
    video = (await web.client.get(f"/api/videos/{vid}/")).json()
    assert (video["like_count"], video["dislike_count"]) == (0, 10)
    rows = await web.db.read(
        lambda conn: conn.execute(
            "SELECT sum(is_like), sum(1 - is_like), count(*) FROM video_likes WHERE video_id = ?",
            [vid],
        ).fetchone()
    )
    assert tuple(rows) == (0, 10, 10)
