"""The /api/v2 answers match the OpenAPI document the server serves."""

from __future__ import annotations

from typing import Any

import jsonschema

from tests.interactive.conftest import Answer, Server
from tests.site.fixture import TestSite


def check(spec: dict[str, Any], path: str, method: str, answer: Answer) -> None:
    responses = spec["paths"][path][method]["responses"]
    assert str(answer.status) in responses, (path, answer.status)
    content = responses[str(answer.status)]["content"]
    (media, body), = content.items()
    assert answer.headers["content-type"] == media
    jsonschema.validate(answer.json, {**body["schema"], "components": spec["components"]})


def test_answers_match_the_served_spec(server: Server, site: TestSite) -> None:
    client = server.client("openapi")
    spec = client.call("GET", "/openapi.json").json
    jsonschema.Draft202012Validator.check_schema(spec["components"]["schemas"]["JobConfig"])
    start = client.call("POST", "/api/v2/jobs/spec/start",
                        {"StartUrls": [site.abs("/redirect/1/"), site.abs("/slow/?delay=1")],
                         "CrawlersProtectionBypass": {"CrawlDelays": [
                             {"Host": "example.com", "Delay": "1-2"}]}})
    check(spec, "/api/v2/jobs/{jobName}/start", "post", start)
    redirect, slow = start.json
    base = "/api/v2/tasks/{taskId}"
    pending = client.call("GET", f"/api/v2/tasks/{slow['Id']}/scrape",
                          params={"selector": "CSS: h1"})
    assert pending.status == 202
    check(spec, base + "/scrape", "get", pending)
    check(spec, base + "/info", "get", client.call("GET", f"/api/v2/tasks/{slow['Id']}/info"))
    crawl = client.ready("GET", f"/api/v2/tasks/{redirect['Id']}/crawl",
                         params={"selector": "CSS: a"})
    check(spec, base + "/crawl", "get", crawl)
    multiple = client.ready("POST", f"/api/v2/tasks/{redirect['Id']}/scrape-multiple",
                            [{"name": "value", "selector": "CSS: p.value"}])
    check(spec, base + "/scrape-multiple", "post", multiple)
    assert multiple.json == [{"name": "value", "values": ["done"]}]
    info = client.call("GET", f"/api/v2/tasks/{redirect['Id']}/info")
    check(spec, base + "/info", "get", info)
    assert len(info.json["IntermedResults"]) == 1
    check(spec, base + "/info", "get", client.call("GET", "/api/v2/tasks/p_unknown/info"))
    check(spec, base + "/scrape", "get",
          client.call("GET", f"/api/v2/tasks/{redirect['Id']}/scrape",
                      params={"selector": "CSS: ["}))
