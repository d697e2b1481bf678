"""The server's access log (control_api/web/channel.py): a line per request on its stderr, in
Twisted's combined log format, under the logger `control_api.access`."""

from __future__ import annotations

import uuid

from tests.api.conftest import ApiServer


def test_each_request_is_a_line_of_the_access_log(api: ApiServer) -> None:
    marker = uuid.uuid4().hex
    response = api.call("GET", f"/v1/tasks/t_{marker}")
    assert response.status == 404
    lines = api.wait_log(f"/v1/tasks/t_{marker}").splitlines()
    found = [text for text in lines if f"/v1/tasks/t_{marker}" in text]
    assert len(found) == 1, found
    assert " control_api.access INFO " in found[0]
    assert f'"GET /v1/tasks/t_{marker} HTTP/1.1" 404 ' in found[0]
