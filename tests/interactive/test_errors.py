"""The error answers of /api/v2 (API.md sections 1 and 4): problem+json with real statuses."""

from __future__ import annotations

from tests.interactive.conftest import Answer, Client, Server
from tests.site.fixture import TestSite
from tests.support.wait import wait_until


def settled(client: Client, task_id: str) -> dict[str, object]:
    """The info of a download task once it is neither Created nor InProgress."""
    seen: list[dict[str, object]] = [{}]

    def done() -> dict[str, object] | None:
        seen[0] = client.info(task_id)
        return seen[0] if seen[0]["TaskState"] not in ("Created", "InProgress") else None

    return wait_until(done, 30, 0.02, lambda: f"task {task_id} to settle: {seen[0]}")


def problem(answer: Answer, status: int) -> dict[str, object]:
    assert answer.status == status, (answer.status, answer.body)
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = answer.json
    assert body["status"] == status
    return body


def test_unknown_and_foreign_tasks_are_404(server: Server, site: TestSite) -> None:
    owner, other = server.client("owner"), server.client("other")
    task = owner.start("mine", {"StartUrls": [site.abs("/product/102/")]})[0]
    owner.ready("GET", f"/api/v2/tasks/{task['Id']}/scrape", params={"selector": "CSS: h1"})
    for client, task_id in ((owner, "p_01doesnotexist"), (other, task["Id"])):
        for path, params in (("info", None), ("crawl", {"selector": "CSS: a"}),
                             ("scrape", {"selector": "CSS: h1"}),
                             ("scrape-multiple", {"scrapeParams[0].name": "n",
                                                  "scrapeParams[0].selector": "CSS: h1"})):
            answer = client.call("GET", f"/api/v2/tasks/{task_id}/{path}", params=params)
            assert task_id in str(problem(answer, 404)["detail"])
    assert problem(owner.call("GET", "/api/v2/nothing/here"), 404)
    assert problem(owner.call("DELETE", f"/api/v2/tasks/{task['Id']}/info"), 405)
    assert problem(Client(server.url, "wrong").call("GET", f"/api/v2/tasks/{task['Id']}/info"),
                   401)


def test_bad_selectors_and_parameters_are_400(server: Server, site: TestSite) -> None:
    client = server.client("selectors")
    task = client.start("selectors", {"StartUrls": [site.abs("/product/103/")]})[0]
    base = f"/api/v2/tasks/{task['Id']}"
    body = problem(client.call("GET", base + "/scrape", params={"selector": "CSS: a[[x"}), 400)
    assert "a[[x" in str(body["detail"])
    body = problem(client.call("GET", base + "/crawl", params={"selector": "XPATH: //a[@"}),
                   400)
    assert "//a[@" in str(body["detail"])
    body = problem(client.call("GET", base + "/scrape", params={"selector": "h1"}), 400)
    assert "'h1'" in str(body["detail"])
    problem(client.call("GET", base + "/scrape"), 400)
    body = problem(client.call("GET", base + "/scrape-multiple",
                               params={"scrapeParams[0].name": "a",
                                       "scrapeParams[0].selector": "CSS: h1",
                                       "scrapeParams[1].name": "b",
                                       "scrapeParams[1].selector": "CSS: ::nope"}), 400)
    assert "scrapeParams[1].selector" in str(body["detail"])
    problem(client.call("GET", base + "/scrape-multiple",
                        params={"scrapeParams[0].selector": "CSS: h1"}), 400)
    problem(client.call("GET", base + "/scrape-multiple"), 400)
    body = problem(client.call("POST", base + "/scrape-multiple", [{"selector": "CSS: h1"}]),
                   422)
    assert "[0].name" in body["errors"]  # type: ignore[operator]


def test_robots_denied_page_is_403(server: Server, site: TestSite) -> None:
    client = server.client("robots")
    task = client.start("robots", {"StartUrls": [site.abs("/private/secret/")]})[0]
    info = settled(client, task["Id"])
    assert info["TaskState"] == "AccessDeniedForRobots"
    assert info["Error"]
    for path in ("scrape", "crawl"):
        answer = client.call("GET", f"/api/v2/tasks/{task['Id']}/{path}",
                             params={"selector": "CSS: a"})
        assert problem(answer, 403)["TaskState"] == "AccessDeniedForRobots"
    assert not site.log(path_prefix="/private/")


def test_http_error_is_403(server: Server, site: TestSite) -> None:
    client = server.client("http-error")
    task = client.start("http-error", {"StartUrls": [site.abs("/status/404")],
                                       "DownloadErrorHandling": {"Policy": "Skip"}})[0]
    answer = client.ready("GET", f"/api/v2/tasks/{task['Id']}/scrape",
                          params={"selector": "CSS: h1"})
    assert problem(answer, 403)["TaskState"] == "Handled"
    info = client.info(task["Id"])
    assert info["Result"]["HttpStatusCode"] == 404 and info["Error"] == "HTTP 404"


def test_image_page_is_422(server: Server, site: TestSite) -> None:
    client = server.client("image")
    task = client.start("image", {"StartUrls": [site.abs("/image.png")]})[0]
    answer = client.ready("GET", f"/api/v2/tasks/{task['Id']}/scrape",
                          params={"selector": "CSS: h1"})
    assert "image/png" in str(problem(answer, 422)["detail"])
    problem(client.call("GET", f"/api/v2/tasks/{task['Id']}/crawl",
                        params={"selector": "CSS: a"}), 422)
    info = client.info(task["Id"])
    assert info["TaskState"] == "Handled" and info["Result"]["HttpStatusCode"] == 200


def test_page_not_downloaded_yet_is_202(server: Server, site: TestSite) -> None:
    client = server.client("slow")
    task = client.start("slow", {"StartUrls": [site.abs("/slow/?delay=1.5")]})[0]
    answer = client.call("GET", f"/api/v2/tasks/{task['Id']}/scrape",
                         params={"selector": "CSS: h1"})
    assert answer.status == 202
    assert answer.json["TaskState"] in ("Created", "InProgress")
    answer = client.ready("GET", f"/api/v2/tasks/{task['Id']}/scrape",
                          params={"selector": "CSS: h1"})
    assert answer.status == 200


def test_bad_job_config_is_422(server: Server, site: TestSite) -> None:
    client = server.client("config")
    body = problem(client.call("POST", "/api/v2/jobs/bad/start",
                               {"StartUrls": ["ftp://example.com/"],
                                "CrawlersProtectionBypass": {"RequestTimeoutSec": -1},
                                "Restart": {"JobRestartMode": "Sometimes"}}), 422)
    errors = body["errors"]
    assert set(errors) >= {"StartUrls[0]", "CrawlersProtectionBypass.RequestTimeoutSec",  # type: ignore[arg-type]
                           "Restart.JobRestartMode"}
    problem(client.call("POST", "/api/v2/jobs/bad/start", {"StartUrls": []}), 422)
    problem(client.call("POST", f"/api/v2/jobs/{'x' * 501}/start",
                        {"StartUrls": [site.abs("/")]}), 400)
