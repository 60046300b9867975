"""Social groups over REST: every endpoint, the whole permission table (each role on
each action), invitations and join requests, bans, posts and reactions, keyset pages,
exact counts under concurrent joins and reactions, and the bad input the API refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from admin_app.groups import service as groups_service
from admin_app.groups.permissions import PERMISSIONS, Action, allowed

from .web_helpers import WebHandle, assert_error, auth, run_web

G = "/api/social/groups"


async def make_group(web: WebHandle, owner: dict[str, Any], **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Film club")
    response = await web.client.post(f"{G}/", json=body, headers=auth(owner))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def join(web: WebHandle, group_id: int, who: dict[str, Any]) -> None:
    response = await web.client.post(f"{G}/{group_id}/join/", headers=auth(who))
    assert response.status_code == 200, response.text


async def set_role(
    web: WebHandle, gid: int, owner: dict[str, Any], who: dict[str, Any], role: str
) -> None:
    response = await web.client.patch(
        f"{G}/{gid}/members/{who['user']['id']}/", json={"role": role}, headers=auth(owner)
    )
    assert response.status_code == 200, response.text


async def group_with_roles(web: WebHandle) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A public group with one account in each role, plus an outsider."""
    people = {
        role: await web.register(role.title())
        for role in ("owner", "admin", "moderator", "member", "outsider")
    }
    group = await make_group(web, people["owner"])
    for role in ("admin", "moderator", "member"):
        await join(web, group["id"], people[role])
        if role != "member":
            await set_role(web, group["id"], people["owner"], people[role], role)
    return group, people


async def test_create_get_list_update_delete(db_path: Path) -> None:
    async with run_web(db_path) as web:
        ann = await web.register("Ann")
        group = await make_group(
            web,
            ann,
            description="Films <b>weekly</b>",
            category="film",
            privacy="public",
            max_members=3,
        )
        assert group["member_count"] == 1
        assert group["my_role"] == "owner"
        assert group["owner_id"] == ann["user"]["id"]
        got = (await web.client.get(f"{G}/{group['id']}/")).json()
        assert got["my_role"] is None
        assert got["description"] == "Films <b>weekly</b>"

        await make_group(web, ann, name="Book circle", category="books")
        listed = (await web.client.get(f"{G}/", params={"search": "FILM"})).json()
        assert [g["name"] for g in listed["results"]] == ["Film club"]
        listed = (await web.client.get(f"{G}/", params={"category": "books"})).json()
        assert listed["count"] == 1

        patched = await web.client.patch(
            f"{G}/{group['id']}/", json={"name": " New "}, headers=auth(ann)
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["name"] == "New"
        assert patched.json()["category"] == "film"
        put = await web.client.put(f"{G}/{group['id']}/", json={"name": "Put"}, headers=auth(ann))
        assert put.json()["category"] == ""
        assert_error(
            await web.client.patch(f"{G}/{group['id']}/", json={"name": ""}, headers=auth(ann)), 422
        )

        mine = (await web.client.get(f"{G}/mine/", headers=auth(ann))).json()
        assert mine["count"] == 2
        assert {g["my_role"] for g in mine["results"]} == {"owner"}

        assert (
            await web.client.delete(f"{G}/{group['id']}/", headers=auth(ann))
        ).status_code == 204
        assert_error(await web.client.get(f"{G}/{group['id']}/"), 404, "group_not_found")


async def test_permission_table_each_role_each_action(db_path: Path) -> None:
    """Every role against every action, through the API where the action is one."""
    for action, roles in PERMISSIONS.items():
        for role in ("owner", "admin", "moderator", "member"):
            assert allowed(role, action) == (role in roles), (role, action)
        assert not allowed(None, action)
    # Targeted actions need a strictly higher rank.
    assert not allowed("admin", Action.REMOVE_MEMBER, target_role="admin")
    assert allowed("admin", Action.REMOVE_MEMBER, target_role="moderator")
    assert not allowed("moderator", Action.REMOVE_MEMBER, target_role="moderator")
    assert not allowed("admin", Action.CHANGE_ROLE, target_role="member", new_role="admin")
    assert allowed("owner", Action.CHANGE_ROLE, target_role="member", new_role="admin")

    async with run_web(db_path) as web:
        for role in ("owner", "admin", "moderator", "member", "outsider"):
            group, people = await group_with_roles(web)
            gid = group["id"]
            actor = people[role]
            real = None if role == "outsider" else role
            victim = await web.register("Victim")
            await join(web, gid, victim)

            def expect(
                response: Any, action: Action, ok: int, real: str | None = real, role: str = role
            ) -> None:
                if allowed(real, action, target_role="member"):
                    assert response.status_code == ok, (role, action, response.text)
                else:
                    assert_error(response, 403)

            expect(
                await web.client.patch(f"{G}/{gid}/", json={"category": "x"}, headers=auth(actor)),
                Action.EDIT_GROUP,
                200,
            )
            other = await web.register("Invitee")
            expect(
                await web.client.post(
                    f"{G}/{gid}/invitations/",
                    json={"user_id": other["user"]["id"]},
                    headers=auth(actor),
                ),
                Action.INVITE,
                201,
            )
            expect(
                await web.client.get(f"{G}/{gid}/join-requests/", headers=auth(actor)),
                Action.DECIDE_REQUESTS,
                200,
            )
            expect(
                await web.client.patch(
                    f"{G}/{gid}/members/{victim['user']['id']}/",
                    json={"role": "member"},
                    headers=auth(actor),
                ),
                Action.CHANGE_ROLE,
                200,
            )
            post = await web.client.post(
                f"{G}/{gid}/posts/", json={"content": "hi"}, headers=auth(victim)
            )
            expect(
                await web.client.delete(
                    f"{G}/{gid}/posts/{post.json()['id']}/", headers=auth(actor)
                ),
                Action.DELETE_ANY_POST,
                204,
            )
            expect(
                await web.client.post(
                    f"{G}/{gid}/posts/", json={"content": "mine"}, headers=auth(actor)
                ),
                Action.POST,
                201,
            )
            expect(
                await web.client.delete(
                    f"{G}/{gid}/members/{victim['user']['id']}/", headers=auth(actor)
                ),
                Action.REMOVE_MEMBER,
                204,
            )
            expect(
                await web.client.post(
                    f"{G}/{gid}/members/{victim['user']['id']}/ban/", json={}, headers=auth(actor)
                ),
                Action.BAN_MEMBER,
                201,
            )
            expect(
                await web.client.post(
                    f"{G}/{gid}/transfer-ownership/",
                    json={"user_id": people["member"]["user"]["id"]},
                    headers=auth(actor),
                ),
                Action.TRANSFER_OWNERSHIP,
                200,
            )
            if role == "owner":
                actor = people["member"]  # the new owner deletes
                real = "owner"
            expect(
                await web.client.delete(f"{G}/{gid}/", headers=auth(actor)),
                Action.DELETE_GROUP,
                204,
            )


async def test_acting_above_ones_role_is_refused(db_path: Path) -> None:
    async with run_web(db_path) as web:
        group, people = await group_with_roles(web)
        gid = group["id"]
        admin, moderator = people["admin"], people["moderator"]
        # An admin may not make admins, touch another admin, or the owner.
        error = assert_error(
            await web.client.patch(
                f"{G}/{gid}/members/{moderator['user']['id']}/",
                json={"role": "admin"},
                headers=auth(admin),
            ),
            403,
            "insufficient_role",
        )
        assert "below its own" in error["message"]
        assert_error(
            await web.client.delete(
                f"{G}/{gid}/members/{people['owner']['user']['id']}/", headers=auth(admin)
            ),
            403,
            "insufficient_role",
        )
        assert_error(
            await web.client.delete(
                f"{G}/{gid}/members/{admin['user']['id']}/", headers=auth(moderator)
            ),
            403,
        )
        # The owner's role is handed over, never set.
        assert_error(
            await web.client.patch(
                f"{G}/{gid}/members/{admin['user']['id']}/",
                json={"role": "owner"},
                headers=auth(people["owner"]),
            ),
            422,
        )
        count = (await web.client.get(f"{G}/{gid}/")).json()["member_count"]
        assert count == 4


async def test_join_leave_full_owner_and_bans(db_path: Path) -> None:
    async with run_web(db_path) as web:
        ann, bob, cy = [await web.register(n) for n in ("Ann", "Bob", "Cy")]
        group = await make_group(web, ann, max_members=2)
        gid = group["id"]
        await join(web, gid, bob)
        assert_error(
            await web.client.post(f"{G}/{gid}/join/", headers=auth(bob)), 409, "already_member"
        )
        assert_error(await web.client.post(f"{G}/{gid}/join/", headers=auth(cy)), 409, "group_full")
        assert_error(
            await web.client.patch(f"{G}/{gid}/", json={"max_members": 1}, headers=auth(ann)),
            409,
            "max_members_below_count",
        )
        assert_error(
            await web.client.post(f"{G}/{gid}/leave/", headers=auth(ann)), 409, "owner_cannot_leave"
        )
        assert (await web.client.post(f"{G}/{gid}/leave/", headers=auth(bob))).status_code == 204
        assert_error(
            await web.client.post(f"{G}/{gid}/leave/", headers=auth(bob)), 409, "not_member"
        )
        # Posting to a group one left.
        assert_error(
            await web.client.post(f"{G}/{gid}/posts/", json={"content": "x"}, headers=auth(bob)),
            403,
            "not_a_member",
        )
        # A ban keeps them out until lifted.
        ban = await web.client.post(
            f"{G}/{gid}/members/{bob['user']['id']}/ban/",
            json={"reason": "spam"},
            headers=auth(ann),
        )
        assert ban.status_code == 201, ban.text
        assert ban.json()["reason"] == "spam"
        assert_error(await web.client.post(f"{G}/{gid}/join/", headers=auth(bob)), 403, "banned")
        bans = (await web.client.get(f"{G}/{gid}/bans/", headers=auth(ann))).json()
        assert [b["user"]["id"] for b in bans["results"]] == [bob["user"]["id"]]
        assert (
            await web.client.delete(f"{G}/{gid}/bans/{bob['user']['id']}/", headers=auth(ann))
        ).status_code == 204
        assert_error(
            await web.client.delete(f"{G}/{gid}/bans/{bob['user']['id']}/", headers=auth(ann)), 404
        )
        await join(web, gid, bob)
        # Hand over, then the old owner may leave.
        moved = await web.client.post(
            f"{G}/{gid}/transfer-ownership/", json={"user_id": bob["user"]["id"]}, headers=auth(ann)
        )
        assert moved.json()["owner_id"] == bob["user"]["id"]
        assert moved.json()["my_role"] == "admin"
        assert (await web.client.post(f"{G}/{gid}/leave/", headers=auth(ann))).status_code == 204
        assert (await web.client.get(f"{G}/{gid}/")).json()["member_count"] == 1


async def test_private_group_is_404_to_strangers(db_path: Path) -> None:
    async with run_web(db_path) as web:
        ann, bob = await web.register("Ann"), await web.register("Bob")
        group = await make_group(web, ann, privacy="private")
        gid = group["id"]
        for path in ("", "members/", "posts/"):
            assert_error(
                await web.client.get(f"{G}/{gid}/{path}", headers=auth(bob)), 404, "group_not_found"
            )
            assert_error(await web.client.get(f"{G}/{gid}/{path}"), 404, "group_not_found")
        assert_error(await web.client.get(f"{G}/999999/"), 404, "group_not_found")
        assert (await web.client.get(f"{G}/", headers=auth(bob))).json()["count"] == 0
        assert (await web.client.get(f"{G}/", headers=auth(ann))).json()["count"] == 1
        assert_error(await web.client.post(f"{G}/{gid}/join/", headers=auth(bob)), 404)


async def test_invitation_flow(db_path: Path) -> None:
    async with run_web(db_path) as web:
        ann, bob, cy = [await web.register(n) for n in ("Ann", "Bob", "Cy")]
        group = await make_group(web, ann, privacy="private", max_members=2)
        gid = group["id"]
        created = await web.client.post(
            f"{G}/{gid}/invitations/",
            json={
                "user_id": bob["user"]["id"],
                "message": "Come <i>along</i>",
                "expires_in_s": 3600,
            },
            headers=auth(ann),
        )
        assert created.status_code == 201, created.text
        invitation = created.json()
        assert invitation["status"] == "pending"
        assert invitation["message"] == "Come <i>along</i>"
        assert_error(
            await web.client.post(
                f"{G}/{gid}/invitations/", json={"user_id": bob["user"]["id"]}, headers=auth(ann)
            ),
            409,
            "already_invited",
        )
        assert_error(
            await web.client.post(
                f"{G}/{gid}/invitations/", json={"user_id": ann["user"]["id"]}, headers=auth(ann)
            ),
            409,
            "already_member",
        )
        assert_error(
            await web.client.post(
                f"{G}/{gid}/invitations/", json={"user_id": "nobody"}, headers=auth(ann)
            ),
            404,
            "user_not_found",
        )
        # The invitee sees the private group and its invitation.
        assert (await web.client.get(f"{G}/{gid}/", headers=auth(bob))).status_code == 200
        mine = (await web.client.get("/api/social/invitations/", headers=auth(bob))).json()
        assert [i["id"] for i in mine["results"]] == [invitation["id"]]
        # Only the invitee responds.
        assert_error(
            await web.client.post(
                f"{G}/{gid}/invitations/{invitation['id']}/respond/",
                json={"accept": True},
                headers=auth(cy),
            ),
            404,
        )
        accepted = await web.client.post(
            f"{G}/{gid}/invitations/{invitation['id']}/respond/",
            json={"accept": True},
            headers=auth(bob),
        )
        assert accepted.json()["status"] == "accepted"
        assert_error(
            await web.client.post(
                f"{G}/{gid}/invitations/{invitation['id']}/respond/",
                json={"accept": False},
                headers=auth(bob),
            ),
            409,
            "not_pending",
        )
        assert (await web.client.get(f"{G}/{gid}/", headers=auth(bob))).json()["member_count"] == 2
        # Expiry, then a full group on accepting.
        late = await web.client.post(
            f"{G}/{gid}/invitations/",
            json={"user_id": cy["user"]["id"], "expires_in_s": 60},
            headers=auth(ann),
        )
        web.clock.advance(61)
        assert_error(
            await web.client.post(
                f"{G}/{gid}/invitations/{late.json()['id']}/respond/",
                json={"accept": True},
                headers=auth(cy),
            ),
            409,
            "invitation_expired",
        )
        assert_error(await web.client.get(f"{G}/{gid}/", headers=auth(cy)), 404)
        listed = (await web.client.get(f"{G}/{gid}/invitations/", headers=auth(ann))).json()
        assert [i["status"] for i in listed["results"]] == ["expired", "accepted"]
        again = await web.client.post(
            f"{G}/{gid}/invitations/", json={"user_id": cy["user"]["id"]}, headers=auth(ann)
        )
        assert again.status_code == 201
        assert_error(
            await web.client.post(
                f"{G}/{gid}/invitations/{again.json()['id']}/respond/",
                json={"accept": True},
                headers=auth(cy),
            ),
            409,
            "group_full",
        )
        declined = await web.client.post(
            f"{G}/{gid}/invitations/{again.json()['id']}/respond/",
            json={"accept": False},
            headers=auth(cy),
        )
        assert declined.json()["status"] == "declined"


async def test_join_request_flow(db_path: Path) -> None:
    async with run_web(db_path) as web:
        ann, bob, cy, mod = [await web.register(n) for n in ("Ann", "Bob", "Cy", "Mod")]
        public = await make_group(web, ann)
        assert_error(
            await web.client.post(f"{G}/{public['id']}/join-requests/", json={}, headers=auth(bob)),
            409,
            "public_group",
        )
        group = await make_group(web, ann, privacy="private")
        gid = group["id"]
        assert_error(await web.client.post(f"{G}/{gid}/join/", headers=auth(bob)), 404)
        made = await web.client.post(
            f"{G}/{gid}/join-requests/", json={"message": "please"}, headers=auth(bob)
        )
        assert made.status_code == 201, made.text
        assert_error(
            await web.client.post(f"{G}/{gid}/join-requests/", json={}, headers=auth(bob)),
            409,
            "already_requested",
        )
        other = await web.client.post(f"{G}/{gid}/join-requests/", json={}, headers=auth(cy))
        # A moderator decides.
        invite = await web.client.post(
            f"{G}/{gid}/invitations/", json={"user_id": mod["user"]["id"]}, headers=auth(ann)
        )
        await web.client.post(
            f"{G}/{gid}/invitations/{invite.json()['id']}/respond/",
            json={"accept": True},
            headers=auth(mod),
        )
        await set_role(web, gid, ann, mod, "moderator")
        pending = (await web.client.get(f"{G}/{gid}/join-requests/", headers=auth(mod))).json()
        assert pending["count"] == 2
        assert_error(
            await web.client.post(
                f"{G}/{gid}/join-requests/{made.json()['id']}/approve/", headers=auth(bob)
            ),
            404,  # a requester is still a stranger to the private group
        )
        approved = await web.client.post(
            f"{G}/{gid}/join-requests/{made.json()['id']}/approve/", headers=auth(mod)
        )
        assert approved.json()["status"] == "approved"
        denied = await web.client.post(
            f"{G}/{gid}/join-requests/{other.json()['id']}/deny/", headers=auth(mod)
        )
        assert denied.json()["status"] == "denied"
        assert_error(
            await web.client.post(
                f"{G}/{gid}/join-requests/{other.json()['id']}/approve/", headers=auth(mod)
            ),
            409,
            "not_pending",
        )
        assert (await web.client.get(f"{G}/{gid}/", headers=auth(bob))).json()[
            "my_role"
        ] == "member"
        assert (await web.client.get(f"{G}/{gid}/", headers=auth(ann))).json()["member_count"] == 3


async def test_posts_edit_delete_and_reactions(db_path: Path) -> None:
    async with run_web(db_path) as web:
        ann, bob = await web.register("Ann"), await web.register("Bob")
        group = await make_group(web, ann)
        gid = group["id"]
        await join(web, gid, bob)
        post = (
            await web.client.post(f"{G}/{gid}/posts/", json={"content": "First"}, headers=auth(bob))
        ).json()
        assert post["is_edited"] is False
        assert_error(
            await web.client.post(
                f"{G}/{gid}/posts/", json={"content": "x" * 5001}, headers=auth(bob)
            ),
            422,
        )
        assert_error(
            await web.client.post(f"{G}/{gid}/posts/", json={"content": "  "}, headers=auth(bob)),
            422,
        )
        assert_error(
            await web.client.patch(
                f"{G}/{gid}/posts/{post['id']}/", json={"content": "x"}, headers=auth(ann)
            ),
            403,
        )
        same = await web.client.patch(
            f"{G}/{gid}/posts/{post['id']}/", json={"content": "First"}, headers=auth(bob)
        )
        assert same.json()["edit_count"] == 0
        edited = await web.client.put(
            f"{G}/{gid}/posts/{post['id']}/", json={"content": "Second"}, headers=auth(bob)
        )
        assert edited.json()["is_edited"] is True
        assert edited.json()["edit_count"] == 1
        assert edited.json()["edited_at"] is not None

        react = f"{G}/{gid}/posts/{post['id']}/react/"
        first = (await web.client.post(react, json={"emoji": "👍"}, headers=auth(ann))).json()
        assert first == {"reacted": True, "emoji": "👍", "count": 1, "reaction_counts": {"👍": 1}}
        await web.client.post(react, json={"emoji": "🎉"}, headers=auth(ann))
        await web.client.post(react, json={"emoji": "👍"}, headers=auth(bob))
        twice = (await web.client.post(react, json={"emoji": "👍"}, headers=auth(ann))).json()
        assert twice["reacted"] is False
        assert twice["reaction_counts"] == {"👍": 1, "🎉": 1}
        assert_error(await web.client.post(react, json={"emoji": "💩"}, headers=auth(ann)), 422)
        got = (await web.client.get(f"{G}/{gid}/posts/{post['id']}/", headers=auth(ann))).json()
        assert got["my_reactions"] == ["🎉"]
        assert (await web.client.get(f"{G}/{gid}/", headers=auth(ann))).json()["post_count"] == 1
        assert (
            await web.client.delete(f"{G}/{gid}/posts/{post['id']}/", headers=auth(bob))
        ).status_code == 204
        assert_error(await web.client.get(f"{G}/{gid}/posts/{post['id']}/"), 404, "post_not_found")
        assert (await web.client.get(f"{G}/{gid}/", headers=auth(ann))).json()["post_count"] == 0


async def test_keyset_pages_walk_both_ways(db_path: Path) -> None:
    async with run_web(db_path) as web:
        ann = await web.register("Ann")
        group = await make_group(web, ann)
        gid = group["id"]
        for i in range(7):
            await web.client.post(f"{G}/{gid}/posts/", json={"content": f"p{i}"}, headers=auth(ann))
        for i in range(4):
            await join(web, gid, await web.register(f"M{i}"))
            web.clock.advance(1)
        seen: list[str] = []
        url: str | None = f"{G}/{gid}/posts/?page_size=3"
        pages = []
        while url:
            body = (await web.client.get(url)).json()
            assert body["count"] == 7
            pages.append(body)
            seen += [p["content"] for p in body["results"]]
            url = body["next"]
        assert seen == [f"p{i}" for i in range(6, -1, -1)]
        back = (await web.client.get(pages[2]["previous"])).json()
        assert back["results"] == pages[1]["results"]
        first = (await web.client.get(back["previous"])).json()
        assert first["results"] == pages[0]["results"]
        assert first["previous"] is None
        names = []
        url = f"{G}/{gid}/members/?page_size=2"
        while url:
            body = (await web.client.get(url)).json()
            names += [m["user"]["display_name"] for m in body["results"]]
            url = body["next"]
        assert names == ["Ann", "M0", "M1", "M2", "M3"]
        assert_error(await web.client.get(f"{G}/{gid}/posts/?cursor=bogus"), 400, "invalid_cursor")
        assert_error(
            await web.client.get(f"{G}/{gid}/members/?cursor=WyJuIixbMV1d"), 400, "invalid_cursor"
        )


async def test_counts_stay_exact_under_concurrent_joins_and_reactions(db_path: Path) -> None:
    async with run_web(db_path) as web:
        owner = await web.register("Owner")
        group = await make_group(web, owner, max_members=11)
        gid = group["id"]
        people = [await web.register(f"P{i}") for i in range(15)]
        statuses: list[int] = []

        async def try_join(who: dict[str, Any]) -> None:
            statuses.append(
                (await web.client.post(f"{G}/{gid}/join/", headers=auth(who))).status_code
            )

        async with trio.open_nursery() as nursery:
            for who in people:
                nursery.start_soon(try_join, who)
        assert sorted(statuses) == [200] * 10 + [409] * 5
        assert (await web.client.get(f"{G}/{gid}/")).json()["member_count"] == 11

        post = (
            await web.client.post(f"{G}/{gid}/posts/", json={"content": "x"}, headers=auth(owner))
        ).json()
        members = [p for p, s in zip(people, statuses, strict=False)][:0]  # filled below
        listed = (await web.client.get(f"{G}/{gid}/members/?page_size=100")).json()
        ids = {m["user"]["id"] for m in listed["results"]}
        members = [p for p in people if p["user"]["id"] in ids]

        async def react_twice_or_once(i: int, who: dict[str, Any]) -> None:
            for _ in range(1 + i % 2):  # odd ones react twice: back to none
                await web.client.post(
                    f"{G}/{gid}/posts/{post['id']}/react/", json={"emoji": "❤️"}, headers=auth(who)
                )

        async with trio.open_nursery() as nursery:
            for i, who in enumerate(members):
                nursery.start_soon(react_twice_or_once, i, who)
        got = (await web.client.get(f"{G}/{gid}/posts/{post['id']}/")).json()
        assert got["reaction_counts"] == {"❤️": sum(1 for i in range(len(members)) if i % 2 == 0)}


async def test_guests_and_bad_ids(db_path: Path) -> None:
    async with run_web(db_path) as web:
        guest = await web.guest("G")
        assert_error(
            await web.client.post(f"{G}/", json={"name": "x"}, headers=auth(guest)),
            403,
            "account_required",
        )
        assert_error(await web.client.post(f"{G}/", json={"name": "x"}), 401)
        assert_error(await web.client.get(f"{G}/{2**64}/"), 404)
        assert_error(
            await web.client.post(
                f"{G}/", json={"name": "x", "max_members": 0}, headers=auth(await web.register())
            ),
            422,
        )


@pytest.mark.parametrize("same", [True, False])
async def test_shares_group_and_is_member_for_other_domains(db_path: Path, same: bool) -> None:
    async with run_web(db_path) as web:
        ann, bob = await web.register("Ann"), await web.register("Bob")
        group = await make_group(web, ann, privacy="private")
        if same:
            invite = await web.client.post(
                f"{G}/{group['id']}/invitations/",
                json={"user_id": bob["user"]["id"]},
                headers=auth(ann),
            )
            await web.client.post(
                f"{G}/{group['id']}/invitations/{invite.json()['id']}/respond/",
                json={"accept": True},
                headers=auth(bob),
            )
        a, b = ann["user"]["id"], bob["user"]["id"]
        assert await web.db.read(groups_service.shares_group, a, b) is same
        assert await web.db.read(groups_service.is_member, group["id"], b) is same
        assert await web.db.read(groups_service.is_member, group["id"], a)
