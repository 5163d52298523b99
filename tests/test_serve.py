"""RAP Studio in a browser (textual-serve): the same app per tab, and two tabs on one session
cannot overwrite each other.

The test is a browser without the browser: it speaks textual-serve's websocket protocol (JSON
envelopes in, the terminal stream out) to a real `rap-studio-serve`, which starts a real
`rap-studio` per connection. The first tab takes the session's lock; the second is told so and
forks the session. An edit in each tab lands in its own file, and neither file holds the
other's edit. Skipped cleanly when the `serve` extra is not installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("textual_serve")
aiohttp = pytest.importorskip("aiohttp")

pytestmark = pytest.mark.slow
ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]")
WAIT = 60.0  # seconds: an app start (imports, the bundled fit) on a loaded 2-core box


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tab:
    """One browser tab: a websocket to the server, and everything the app drew so far."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.screen = b""
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                self.screen += message.data
            elif message.type != aiohttp.WSMsgType.TEXT:
                break

    def text(self) -> str:
        return ANSI.sub(b"", self.screen).decode("utf-8", "replace")

    async def wait_for(self, words: str) -> None:
        deadline = time.monotonic() + WAIT
        while words not in self.text():
            assert time.monotonic() < deadline, f"{words!r} never shown:\n{self.text()[-2000:]}"
            await asyncio.sleep(0.2)

    async def press(self, keys: str) -> None:
        await self.ws.send_str(json.dumps(["stdin", keys]))

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


async def _wait_file(path: Path, test) -> dict:
    deadline = time.monotonic() + WAIT
    while True:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text())
            if test(data):
                return data
        assert time.monotonic() < deadline, f"{path} never had the expected content"
        await asyncio.sleep(0.2)


def test_two_tabs_on_one_session_never_overwrite_each_other(tmp_path):
    session = tmp_path / "shared.json"
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tui.serve", "--host", "127.0.0.1", "--port", str(port),
         "--session", str(session)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    async def body():
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + WAIT
            while True:  # the server is up when its page answers
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(url) as page:
                        if page.status == 200 and "RAP Studio" in await page.text():
                            break
                assert time.monotonic() < deadline, "the server never answered"
                await asyncio.sleep(0.2)
            first = Tab(await http.ws_connect(f"{url}/ws?width=120&height=40"))
            await first.wait_for("as fitted")  # the same app: the demo's bundled fit is open
            second = Tab(await http.ws_connect(f"{url}/ws?width=120&height=40"))
            await second.wait_for("as fitted")
            await second.wait_for("fork")  # told that its edits go to a forked session
            await first.press("+")  # rules table: the first vote's weight +0.1
            saved = await _wait_file(session, lambda d: len(d.get("edits", [])) == 1)
            for _ in range(3):
                await second.press("]")  # +1, three times: three edits in the fork
            forks = []
            deadline = time.monotonic() + WAIT
            while not forks:
                forks = list(tmp_path.glob("shared.fork-*.json"))
                assert time.monotonic() < deadline, "the second tab wrote no fork"
                await asyncio.sleep(0.2)
            forked = await _wait_file(forks[0], lambda d: len(d.get("edits", [])) == 3)
            assert json.loads(session.read_text()) == saved  # the first tab's file is untouched
            assert saved["edits"] != forked["edits"][:1]  # +0.1 there, +1 here
            await first.close()
            await second.close()

    try:
        asyncio.run(body())
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
