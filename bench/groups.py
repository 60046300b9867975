"""Social groups at scale: a group of 100,000 members with 1,000,000 posts and
reactions, and one account in 2,000 groups.

Measures, over HTTP on loopback against the real web app (``serve_web``, one process),
the latency of the member list, the post feed and a user's groups at the first page,
the middle and the last (keyset cursors, ``page_size`` 20), and for comparison the
same deepest page read with ``LIMIT … OFFSET`` straight from SQLite.

Data is written with ``executemany`` in one transaction (triggers keep the counts),
in a temporary directory that is removed afterwards.

    python -m bench.groups                         # full size (a few minutes to fill)
    python -m bench.groups --members 10000 --posts 100000 --requests 50   # short
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio

import data
from admin_app import serve_web
from admin_app.core.pagination import encode_cursor
from protocol.tokens import TYP_ACCESS, issue_token
from sync_server.config import Config
from sync_server.control import LocalRoomControl
from sync_server.server import SyncServer

from .common import Summary, command_line, env_block, environment, md_table, write_result

SECRET = "bench-groups-" + "x" * 32
EMOJI = ("👍", "❤️", "😂", "😮", "😢", "🎉")
T0_MS = 1_700_000_000_000


def fill(db: data.Database, members: int, posts: int, reactions: int, groups: int) -> float:
    """Write the data set; return the seconds it took."""
    rng = random.Random(1)
    started = time.perf_counter()

    def write(conn: Any) -> None:
        c = conn.conn
        c.executemany(
            "INSERT INTO users (id, email, password_hash, display_name, role, is_guest, "
            "is_active, created_at_ms) VALUES (?, NULL, NULL, ?, 'user', 0, 1, ?)",
            ((f"u{i:07d}", f"Member {i}", T0_MS) for i in range(members)),
        )
        c.execute(
            "INSERT INTO social_groups (id, name, privacy, max_members, created_at_ms, "
            "updated_at_ms) VALUES (1, 'Big group', 'public', ?, ?, ?)",
            [members, T0_MS, T0_MS],
        )

        def member_rows() -> Any:
            for i in range(members):
                role = (
                    "owner"
                    if i == 0
                    else "admin"
                    if i <= 10
                    else "moderator"
                    if i <= 110
                    else "member"
                )
                rank = ("owner", "admin", "moderator", "member").index(role)
                yield (1, f"u{i:07d}", role, rank, T0_MS + i)

        c.executemany(
            "INSERT INTO group_members (group_id, user_id, role, role_rank, joined_at_ms) "
            "VALUES (?, ?, ?, ?, ?)",
            member_rows(),
        )
        c.executemany(
            "INSERT INTO group_posts (group_id, author_id, content, created_at_ms) "
            "VALUES (1, ?, ?, ?)",
            ((f"u{rng.randrange(members):07d}", f"post {i}", T0_MS + i) for i in range(posts)),
        )
        c.executemany(
            "INSERT OR IGNORE INTO group_post_reactions (post_id, emoji, user_id, created_at_ms) "
            "VALUES (?, ?, ?, ?)",
            (
                (
                    rng.randrange(posts) + 1,
                    rng.choice(EMOJI),
                    f"u{rng.randrange(members):07d}",
                    T0_MS,
                )
                for _ in range(reactions)
            ),
        )
        # The busy account (u0000001) belongs to `groups` more groups.
        c.executemany(
            "INSERT INTO social_groups (id, name, privacy, max_members, created_at_ms, "
            "updated_at_ms) VALUES (?, ?, 'private', 10, ?, ?)",
            ((g, f"Group {g}", T0_MS, T0_MS) for g in range(2, groups + 2)),
        )
        c.executemany(
            "INSERT INTO group_members (group_id, user_id, role, role_rank, joined_at_ms) "
            "VALUES (?, 'u0000001', 'owner', 0, ?)",
            ((g, T0_MS + g) for g in range(2, groups + 2)),
        )

    db.write_sync(write)
    return time.perf_counter() - started


def cursors(
    db: data.Database, members: int, posts: int, groups: int
) -> dict[str, dict[str, str | None]]:
    """Cursors of the first, middle and last page of each list (found once, by offset)."""

    def read(conn: Any) -> dict[str, dict[str, str | None]]:
        def member_key(offset: int) -> list[Any]:
            return list(
                conn.execute(
                    "SELECT role_rank, joined_at_ms, user_id FROM group_members WHERE group_id = 1 "
                    "ORDER BY role_rank, joined_at_ms, user_id LIMIT 1 OFFSET ?",
                    [offset],
                ).fetchone()
            )

        def post_key(offset: int) -> list[Any]:
            return list(
                conn.execute(
                    "SELECT id FROM group_posts WHERE group_id = 1 "
                    "ORDER BY id DESC LIMIT 1 OFFSET ?",
                    [offset],
                ).fetchone()
            )

        def group_key(offset: int) -> list[Any]:
            return list(
                conn.execute(
                    "SELECT joined_at_ms, group_id FROM group_members WHERE user_id = 'u0000001' "
                    "ORDER BY joined_at_ms DESC, group_id DESC LIMIT 1 OFFSET ?",
                    [offset],
                ).fetchone()
            )

        out: dict[str, dict[str, str | None]] = {}
        for name, key, n in (
            ("members", member_key, members),
            ("posts", post_key, posts),
            ("my groups", group_key, groups + 1),
        ):
            out[name] = {
                "first": None,
                "middle": encode_cursor("n", key(n // 2 - 1)),
                "last": encode_cursor("n", key(n - 21)),
            }
        return out

    return db.read_sync(read)


def offset_ms(db: data.Database, posts: int, repeats: int) -> Summary:
    """The deepest post page read with OFFSET, for comparison."""

    def read(conn: Any) -> None:
        conn.execute(
            "SELECT id, content FROM group_posts WHERE group_id = 1 ORDER BY id DESC "
            "LIMIT 20 OFFSET ?",
            [posts - 20],
        ).fetchall()

    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        db.read_sync(read)
        samples.append((time.perf_counter() - t) * 1000)
    return Summary.of(samples)


async def measure(
    args: argparse.Namespace, db: data.Database, marks: dict[str, Any]
) -> dict[str, Summary]:
    config = Config(db=str(args.db), web_host="127.0.0.1", web_port=0, demo=False)
    sync = SyncServer(config, db, secret=SECRET)
    token = issue_token(
        SECRET,
        {"sub": "u0000001", "name": "Member 1", "role": "user", "guest": False},
        typ=TYP_ACCESS,
        now_s=time.time(),
        ttl_s=3600,
    )
    paths = {
        "members": "/api/social/groups/1/members/",
        "posts": "/api/social/groups/1/posts/",
        "my groups": "/api/social/groups/mine/",
    }
    results: dict[str, Summary] = {}
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            lambda task_status: serve_web(
                config, db=db, rooms=LocalRoomControl(sync), secret=SECRET, task_status=task_status
            )
        )
        base = f"http://127.0.0.1:{server.port}"
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}
        ) as client:
            for name, path in paths.items():
                for depth, cursor in marks[name].items():
                    params = {"page_size": "20"}
                    if cursor:
                        params["cursor"] = cursor
                    samples = []
                    for _ in range(args.requests + 5):
                        t = time.perf_counter()
                        response = await client.get(path, params=params)
                        samples.append((time.perf_counter() - t) * 1000)
                        assert response.status_code == 200, response.text
                        assert len(response.json()["results"]) == 20, (name, depth)
                    results[f"{name} / {depth}"] = Summary.of(samples[5:])  # 5 warm-up requests
        nursery.cancel_scope.cancel()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.groups", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--reactions", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=2_000, help="groups of the busy account")
    parser.add_argument("--requests", type=int, default=200, help="requests per list and depth")
    args = parser.parse_args()
    env = environment()
    with tempfile.TemporaryDirectory(prefix="wp-bench-groups-") as tmp:
        args.db = Path(tmp) / "groups.db"
        db = data.open_database(args.db)
        try:
            fill_s = fill(db, args.members, args.posts, args.reactions, args.groups)
            marks = cursors(db, args.members, args.posts, args.groups)
            offset = offset_ms(db, args.posts, min(args.requests, 50))
            results = trio.run(measure, args, db, marks)
            size_mib = args.db.stat().st_size / 1048576
        finally:
            db.close()
    rows = [
        [name, f"{s.p50:.2f}", f"{s.p99:.2f}", f"{s.max:.2f}", s.n] for name, s in results.items()
    ]
    markdown = "\n".join(
        [
            "### Social groups: member list, post feed and a user's groups (keyset pages)",
            "",
            env_block(env, command_line("bench.groups")),
            f"- data: one group of {args.members:,} members, {args.posts:,} posts and "
            f"{args.reactions:,} reaction attempts (duplicates ignored); one account in "
            f"{args.groups + 1:,} groups; database {size_mib:.0f} MiB, filled in {fill_s:.1f} s "
            "(executemany, one transaction, counting triggers on)",
            "- each: sequential GET over HTTP/1.1 on loopback to the real web app (hypercorn on "
            f"trio, one process), page_size 20, {args.requests} requests after 5 warm-up ones; ms",
            "",
            md_table(["list / page", "p50", "p99", "max", "n"], rows),
            "",
            f"For comparison, the last post page read with `LIMIT 20 OFFSET {args.posts - 20:,}` "
            f"straight from SQLite (no HTTP): {offset.fmt()}.",
        ]
    )
    print(markdown)
    write_result(
        "groups",
        markdown,
        {"results": {k: vars(v) for k, v in results.items()}, "offset": vars(offset)},
    )


if __name__ == "__main__":
    main()
