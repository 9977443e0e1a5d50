"""HTTPS and mutual TLS for the worker's HTTP server (HUB_HTTP_TLS_*)."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from hub.settings import HubSettings
from hub.worker._app import server_tls


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it."""
    folder = tmp_path_factory.mktemp("pki")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=hub test CA",
        cwd=folder,
    )
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    for name in ("server", "client"):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
            cwd=folder,
        )
        extra = ["-extfile", "san.cnf"] if name == "server" else []
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "2",
            *extra,
            cwd=folder,
        )
    return folder


async def _serve(context: ssl.SSLContext | None) -> AsyncIterator[str]:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"https://127.0.0.1:{port}/healthz"
    finally:
        await runner.cleanup()


def _client(pki: Path, with_certificate: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if with_certificate:
        context.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
    return context


def test_no_certificate_means_no_tls() -> None:
    assert server_tls(HubSettings()) is None


async def test_https_with_the_configured_certificate(pki: Path) -> None:
    settings = HubSettings(
        http_tls_certfile=pki / "server.pem", http_tls_keyfile=pki / "server.key"
    )
    async for url in _serve(server_tls(settings)):
        async with aiohttp.ClientSession() as session:
            async with session.get(url, ssl=_client(pki, with_certificate=False)) as answer:
                assert answer.status == 200


async def test_mutual_tls_refuses_clients_without_a_certificate(pki: Path) -> None:
    settings = HubSettings(
        http_tls_certfile=pki / "server.pem",
        http_tls_keyfile=pki / "server.key",
        http_tls_client_cafile=pki / "ca.pem",
    )
    async for url in _serve(server_tls(settings)):
        async with aiohttp.ClientSession() as session:
            async with session.get(url, ssl=_client(pki, with_certificate=True)) as answer:
                assert answer.status == 200
            with pytest.raises(aiohttp.ClientError):
                async with session.get(url, ssl=_client(pki, with_certificate=False)) as answer:
                    await answer.read()
