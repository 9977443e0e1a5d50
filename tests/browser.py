"""A small driver for Debian's headless `chromium`, spoken to over the DevTools Protocol.

`headless_chromium()` starts a fresh browser with a throw-away profile, opens one page,
and yields a `Page` to navigate, evaluate JavaScript, wait for conditions and take
screenshots. It needs nothing but aiohttp; a missing browser is an error, never a skip.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

STARTUP_SECONDS = 30
INSTALL_HINT = "install Debian's chromium package (apt-get install chromium); .ci/run installs it"


class Page:
    """One browser tab, driven over a flattened DevTools session on a shared websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._waiters: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}
        self._session: str | None = None
        self.console: list[str] = []
        """Console calls, uncaught JS exceptions and browser log entries, as text."""
        self._reader = asyncio.create_task(self._read())

    async def send(self, method: str, within: float = 30, **params: Any) -> dict[str, Any]:
        """Send one DevTools command to this page and return its result within `within` s.

        Raises RuntimeError when the browser answers with a protocol error.
        """
        msg_id = next(self._ids)
        msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params}
        if self._session is not None and not method.startswith("Target."):
            msg["sessionId"] = self._session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        try:
            await self._ws.send_json(msg)
            return await asyncio.wait_for(future, within)
        finally:
            self._pending.pop(msg_id, None)

    def _expect(self, event: str) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(event, []).append(future)
        return future

    async def _read(self) -> None:
        error: BaseException = ConnectionError("DevTools websocket closed (did chromium exit?)")
        try:
            async for frame in self._ws:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    break
                self._dispatch(frame.json())
        except Exception as exc:  # noqa: BLE001 - handed on to every waiting caller
            error = exc
        for future in [*self._pending.values(), *itertools.chain(*self._waiters.values())]:
            if not future.done():
                future.set_exception(error)

    def _dispatch(self, msg: dict[str, Any]) -> None:
        if "id" in msg:
            future = self._pending.get(msg["id"])
            if future is not None and not future.done():
                if "error" in msg:
                    future.set_exception(RuntimeError(f"CDP error: {msg['error']}"))
                else:
                    future.set_result(msg.get("result", {}))
            return
        method, params = msg.get("method", ""), msg.get("params", {})
        if method == "Runtime.consoleAPICalled":
            args = [str(a.get("value", a.get("description", ""))) for a in params.get("args", [])]
            self.console.append(f"{params.get('type')}: {' '.join(args)}")
        elif method == "Runtime.exceptionThrown":
            self.console.append(f"exception: {_exception_text(params['exceptionDetails'])}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            self.console.append(f"log.{entry.get('level')}: {entry.get('text')}")
        for future in self._waiters.pop(method, []):
            if not future.done():
                future.set_result(params)

    async def goto(self, url: str, timeout: float = 30) -> None:  # noqa: ASYNC109
        """Navigate to url and wait for its load event; raise if navigation itself failed."""
        loaded = self._expect("Page.loadEventFired")
        result = await self.send("Page.navigate", within=timeout, url=url)
        if result.get("errorText"):
            loaded.cancel()
            raise RuntimeError(f"navigating to {url} failed: {result['errorText']}")
        await asyncio.wait_for(loaded, timeout)

    async def evaluate(self, expression: str) -> Any:
        """Evaluate a JS expression (awaiting promises) and return its JSON value.

        Raises RuntimeError with the exception text when the JavaScript throws.
        """
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"JS error: {_exception_text(result['exceptionDetails'])}")
        return result.get("result", {}).get("value")

    async def wait_for(self, js_condition: str, timeout: float = 20) -> None:  # noqa: ASYNC109
        """Poll js_condition until truthy; JS errors while polling count as not yet.

        On timeout raises AssertionError carrying the page's visible text (first 2000
        characters) and the last JS error, if any.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        last_error = ""
        while True:
            try:
                if await self.evaluate(f"!!({js_condition})"):
                    return
            except RuntimeError as exc:
                last_error = str(exc)
            if asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(0.1)
        text = await self.evaluate("document.body ? document.body.innerText.slice(0, 2000) : ''")
        raise AssertionError(
            f"timed out after {timeout}s waiting for {js_condition!r}"
            f"{f' (last error: {last_error})' if last_error else ''}\npage text:\n{text}"
        )

    async def screenshot(self, path: str | os.PathLike[str]) -> Path:
        """Save a PNG of the viewport to path and return that path."""
        result = await self.send("Page.captureScreenshot", format="png")
        target = Path(path)
        await asyncio.to_thread(target.write_bytes, base64.b64decode(result["data"]))
        return target

    async def _attach(self, headers: dict[str, str] | None, width: int, height: int) -> None:
        target = await self.send("Target.createTarget", url="about:blank")
        attached = await self.send(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        self._session = attached["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            await self.send(f"{domain}.enable")
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        if headers:
            await self.send("Network.setExtraHTTPHeaders", headers=headers)

    async def _close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._ws.close()


def _exception_text(details: dict[str, Any]) -> str:
    exception = details.get("exception") or {}
    return str(exception.get("description") or details.get("text", "unknown JS error"))


def find_chromium() -> str:
    """Path of `chromium` (or `chromium-browser`) on PATH; RuntimeError when neither is."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(f"no chromium on PATH: {INSTALL_HINT}")


async def _devtools_url(proc: asyncio.subprocess.Process, profile: Path, log: Path) -> str:
    """Wait for chromium to write DevToolsActivePort and return the browser websocket URL."""
    port_file = profile / "DevToolsActivePort"
    deadline = asyncio.get_running_loop().time() + STARTUP_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        if proc.returncode is not None:
            break
        if port_file.exists():
            lines = port_file.read_text().splitlines()
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        await asyncio.sleep(0.05)
    output = await asyncio.to_thread(log.read_text, errors="replace")
    why = f"exited with {proc.returncode}" if proc.returncode is not None else "timed out"
    raise RuntimeError(f"chromium never opened its DevTools port ({why}):\n{output[-3000:]}")


@contextlib.asynccontextmanager
async def headless_chromium(
    *, headers: dict[str, str] | None = None, width: int = 1280, height: int = 900
) -> AsyncIterator[Page]:
    """Start headless chromium with a temporary profile and yield one attached `Page`.

    headers, when given, are sent with every request the page makes (navigations and
    fetch() alike). On exit the websocket is closed, the browser terminated (killed
    after 5 s) and the profile removed.
    """
    binary = find_chromium()
    tmp = Path(tempfile.mkdtemp(prefix="hub-chromium-"))
    profile, log = tmp / "profile", tmp / "chromium.log"
    args = [
        "--headless=new",
        "--no-sandbox",  # chromium refuses to run as root with its sandbox on
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--no-proxy-server",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "about:blank",
    ]
    with log.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            binary,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
        )
    http = aiohttp.ClientSession()
    page: Page | None = None
    try:
        url = await _devtools_url(proc, profile, log)
        ws = await http.ws_connect(url, max_msg_size=0)
        page = Page(ws)
        await page._attach(headers, width, height)
        yield page
    finally:
        if page is not None:
            await page._close()
        await http.close()
        await _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """Terminate chromium, kill it after 5 s, then kill what is left of its process group."""
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: renderers and zygotes only
