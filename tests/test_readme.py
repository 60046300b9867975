"""The README as a newcomer follows it: the "first five minutes" REST example runs as
written (curl and jq against a real ``watchparty serve``), and what it promises holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import trio

from .test_processes import free_port, wait_ready, watchparty

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_block(marker: str) -> str:
    """The code block right after ``<!-- marker -->`` in README.md."""
    match = re.search(rf"<!-- {marker} -->\n```bash\n(.*?)\n```", README.read_text(), re.S)
    assert match, f"README.md has no bash block after <!-- {marker} -->"
    return match.group(1)


def test_the_test_command_installs_every_tool_the_tests_use() -> None:
    command = readme_block("test-command")
    installed = re.search(r"apt-get install -y -qq ([a-z0-9 -]+?) &&", command)
    assert installed, command
    assert set(installed.group(1).split()) >= {"chromium", "ffmpeg", "curl", "jq"}


async def test_first_five_minutes_runs_as_written(tmp_path: Path) -> None:
    script = readme_block("first-five-minutes")
    assert "WP=http://127.0.0.1:8000\n" in script
    web_port = free_port()
    base = f"http://127.0.0.1:{web_port}"
    script = script.replace("WP=http://127.0.0.1:8000\n", f"WP={base}\n")
    async with watchparty(
        "serve",
        "--db",
        str(tmp_path / "wp.db"),
        "--port",
        str(free_port()),
        "--web-port",
        str(web_port),
        log=tmp_path / "serve.log",
    ):
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            await wait_ready("/api/health/", http)
            done = await trio.run_process(
                ["bash", "-euo", "pipefail", "-c", script],
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
            out = done.stdout.decode()
            assert done.returncode == 0, (out, done.stderr.decode())
            first, rest = out.split("\n", 1)
            code = first.removeprefix(f"watch it at {base}/watch/")
            assert first.startswith(f"watch it at {base}/watch/"), first
            assert code, first
            answer = json.loads(rest)
            assert answer["playback"]["paused"] is False, answer
            room = (await http.get(f"/api/rooms/{code}/")).json()
            assert room["name"] == "Movie night"
            assert room["playback"]["paused"] is False
            assert (await http.get(f"/watch/{code}")).status_code == 200
