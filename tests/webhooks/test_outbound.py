"""Outbound safety: link-local and metadata addresses are refused always, loopback and private
ones unless the server allows private targets; refusals are 422 with the offending path."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from twisted.internet.address import IPv4Address

from control_api.background.safe_http import SafeResolver
from engine.outbound import url_problem
from engine.store import Store, store_url
from engine.store.tables import deliveries
from tests.site.fixture import TestSite
from tests.support.server import Server
from tests.webhooks.receiver import Receiver
from tests.webhooks.server import webhook_env

QUOTES = {"start_urls": ["http://93.184.216.34/"]}  # a public address: never fetched (run off)


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://[fd00:ec2::254]/",
    "http://metadata.google.internal/computeMetadata/v1/", "http://METADATA.google.internal./",
    "http://[::ffff:169.254.169.254]/", "http://2852039166/",  # 169.254.169.254 as a number
    "http://100.100.100.200/", "http://224.0.0.1/",
])
def test_refused_always(url: str) -> None:
    assert url_problem(url, allow_private=True) is not None
    assert url_problem(url, allow_private=False) is not None


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/", "http://localhost/", "http://[::1]/", "http://10.1.2.3/",
    "http://192.168.0.1/", "http://172.16.0.1/", "http://100.64.0.1/", "http://0.0.0.0/",
])
def test_private_only_when_allowed(url: str) -> None:
    assert url_problem(url, allow_private=True) is None
    assert "CRAWLPLANE_ALLOW_PRIVATE_TARGETS" in (url_problem(url, allow_private=False) or "")


def test_public_allowed() -> None:
    assert url_problem("https://93.184.216.34/", allow_private=False) is None
    # A name that does not resolve is left to the request's own DNS error.
    assert url_problem("http://no-such-host.invalid/", allow_private=False) is None


def errors_of(server: Server, key: str, body: dict[str, object]) -> dict[str, list[str]]:
    response = server.call("POST", "/v1/tasks", body, key=key)
    assert response.status == 422, response.body
    assert response.headers["content-type"] == "application/problem+json"
    errors: dict[str, list[str]] = response.json["errors"]
    return errors


def test_metadata_and_link_local_urls_answer_422(server: Server, key: str) -> None:
    errors = errors_of(server, key, {
        "scheme": {"start_urls": ["http://93.184.216.34/", "http://[fe80::1]/"],
                   "proxy": {"use": True,
                             "gates": [{"url": "http://u:p@169.254.169.254:3128"}]}},
        "run": False,
        "callback_url": "http://169.254.169.254/latest/meta-data/",
        "pingback_url": "http://93.184.216.34/$id",
        "postback_url": "http://metadata.google.internal/x",
    })
    assert set(errors) == {"scheme.start_urls[1]", "scheme.proxy.gates[0].url",
                           "callback_url", "postback_url"}
    assert "link-local" in errors["scheme.start_urls[1]"][0]
    assert "metadata" in errors["callback_url"][0]


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("strict"), allow_private=False,
                     **webhook_env()).start()
    yield running
    running.stop()


def test_loopback_refused_without_the_setting(strict_server: Server, site: TestSite) -> None:
    key = strict_server.create_key("strict")
    errors = errors_of(strict_server, key, {"scheme": {"start_urls": [site.url + "/quotes/"]}})
    assert list(errors) == ["scheme.start_urls[0]"]
    assert "loopback" in errors["scheme.start_urls[0]"][0]
    errors = errors_of(strict_server, key, {"scheme": QUOTES, "run": False,
                                            "callback_url": "http://localhost:9/hook"})
    assert list(errors) == ["callback_url"]
    errors = errors_of(strict_server, key, {"scheme": QUOTES, "run": False,
                                            "postback_url": "http://10.0.0.8/in"})
    assert list(errors) == ["postback_url"]
    created = strict_server.ok("POST", "/v1/tasks", {
        "scheme": QUOTES, "run": False, "callback_url": "https://93.184.216.34/hook"},
        201, key=key)
    assert created["callback_url"] == "https://93.184.216.34/hook"


def test_delivery_time_check_refuses_and_records(server: Server, key: str,
                                                 receiver: Receiver, data_dir: Path) -> None:
    """DNS can change after the task was created: the sender checks again before each attempt.
    Simulated with a due delivery written straight into the store."""
    task = server.ok("POST", "/v1/tasks", {"scheme": QUOTES, "run": False}, 201, key=key)
    store = Store(store_url("", server.data_dir))
    with store.begin() as conn:
        conn.execute(insert(deliveries).values(
            delivery_id="d_test", tenant_id="-", task_id=task["id"], run_id="r_test",
            kind="pingback", url="http://169.254.169.254/latest/meta-data/", attempt=1,
            state="pending", next_attempt_at=time.time()))
    store.close()
    rows = server.wait_deliveries(task["id"], lambda rows: rows and rows[0]["at"], timeout=20,
                                  key=key)
    assert len(rows) == 1
    assert (rows[0]["state"], rows[0]["status_code"], rows[0]["next_attempt_at"]) == (
        "failed", None, None)
    assert rows[0]["error"].startswith("refused: 169.254.169.254 is a cloud metadata address")


class _Addresses:
    """A resolver that answers with fixed addresses (what a rebinding DNS server would do)."""

    def __init__(self, *hosts: str):
        self.hosts = hosts

    def resolveHostName(self, receiver: Any, hostName: str, portNumber: int = 0,
                        addressTypes: Any = None, transportSemantics: str = "TCP") -> None:
        receiver.resolutionBegan(None)
        for host in self.hosts:
            receiver.addressResolved(IPv4Address("TCP", host, portNumber))
        receiver.resolutionComplete()


class _Collect:
    def __init__(self) -> None:
        self.hosts: list[str] = []
        self.complete = False

    def resolutionBegan(self, resolution: Any) -> None:
        pass

    def addressResolved(self, address: Any) -> None:
        self.hosts.append(address.host)

    def resolutionComplete(self) -> None:
        self.complete = True


@pytest.mark.parametrize(("allow_private", "expected"), [
    (True, ["127.0.0.1", "93.184.216.34"]), (False, ["93.184.216.34"])])
def test_the_webhook_agent_connects_only_to_allowed_addresses(
        allow_private: bool, expected: list[str]) -> None:
    rebinding = _Addresses("169.254.169.254", "127.0.0.1", "93.184.216.34", "169.254.1.1")
    resolver = SafeResolver(rebinding, allow_private)  # type: ignore[arg-type]
    got = _Collect()
    resolver.resolveHostName(got, "rebind.example", 80)  # type: ignore[arg-type]
    assert got.hosts == expected and got.complete
