"""The page cache and job restarts: Continue revalidates with conditional requests and a 304
reuses the cached body; FromScratch starts over; an idle job's process ends and a new one is
launched when work arrives."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.interactive.conftest import Client, Server, start_server, stop_server
from tests.interactive.test_errors import settled
from tests.site.fixture import TestSite
from tests.support.wait import wait_until


def job_task(client: Client, name: str) -> dict[str, Any]:
    tasks = client.call("GET", "/v1/tasks", params={"name": name}).json["data"]
    assert len(tasks) == 1
    task: dict[str, Any] = tasks[0]
    return task


def value(client: Client, task_id: str) -> Any:
    answer = client.ready("GET", f"/api/v2/tasks/{task_id}/scrape",
                          params={"selector": "CSS: p.value"})
    assert answer.status == 200, answer.body
    return answer.json


def test_continue_revalidates_and_from_scratch_starts_over(server: Server,
                                                            site: TestSite) -> None:
    client = server.client("cache")
    # A page of this call's own: the site's log is the worker's, and this test also runs on
    # PostgreSQL (tests/interactive/test_postgres.py), maybe in the same worker.
    etag = f"reval{uuid.uuid4().hex[:8]}"
    page = f"/etag/{etag}/"
    config: dict[str, Any] = {
        "StartUrls": [site.abs(page)],
        "Headers": {"DefaultRequestHeaders": [{"Name": "X-Job", "Values": ["cache-test"]}]},
    }
    first = client.start("cache", config)[0]
    assert value(client, first["Id"]) == ["v1"]
    assert value(client, first["Id"]) == ["v1"]  # from the cache: no second request
    log = site.log(path_prefix=page)
    assert len(log) == 1
    assert "if-none-match" not in log[0]["headers"]
    assert log[0]["headers"]["x-job"] == ["cache-test"]

    again = client.start("cache", {**config, "Restart": {"JobRestartMode": "Continue"}})
    assert again == [first]
    info = settled(client, first["Id"])
    assert info["TaskState"] == "Handled" and info["Result"]["HttpStatusCode"] == 304
    assert value(client, first["Id"]) == ["v1"]  # the cached body, kept on 304
    log = site.log(path_prefix=page)
    assert len(log) == 2
    assert log[1]["headers"]["if-none-match"] == [f'"{etag}-v1"']
    assert log[1]["headers"]["if-modified-since"] == ["Mon, 01 Jan 2024 00:00:00 GMT"]

    fresh = client.start("cache", {**config, "Restart": {"JobRestartMode": "FromScratch"}})
    assert fresh[0]["Url"] == first["Url"] and fresh[0]["Id"] != first["Id"]
    assert value(client, fresh[0]["Id"]) == ["v1"]
    assert client.info(first["Id"])["TaskState"] == "Deleted"
    assert client.call("GET", f"/api/v2/tasks/{first['Id']}/scrape",
                       params={"selector": "CSS: p.value"}).status == 404
    log = site.log(path_prefix=page)
    assert len(log) == 3 and "if-none-match" not in log[2]["headers"]
    pages = client.call("GET", f"/v1/tasks/{job_task(client, 'cache')['id']}/pages").json
    assert {(p["id"], p["state"]) for p in pages["data"]} == {(first["Id"], "Deleted"),
                                                              (fresh[0]["Id"], "Handled")}


def test_idle_job_closes_and_relaunches_on_new_work(server: Server, site: TestSite) -> None:
    client = server.client("idle")
    root = client.start("idle", {"StartUrls": [site.abs("/catalog/")]})[0]
    assert client.ready("GET", f"/api/v2/tasks/{root['Id']}/scrape",
                        params={"selector": "CSS: h1"}).json == ["Catalog"]
    first_run = job_task(client, "idle")
    # The idle timeout is 2 s, checked every 5 s by Scrapy.
    wait_until(lambda: job_task(client, "idle")["status"] == "completed", 30, 0.2,
               "the idle job's run to complete")

    categories = client.crawl(root["Id"], "CSS: a.category")
    assert len(categories) == 3
    answer = client.ready("GET", f"/api/v2/tasks/{categories[0]['Id']}/scrape",
                          params={"selector": "CSS: h1"})
    assert answer.json == ["Books"]
    second_run = job_task(client, "idle")
    assert second_run["status"] == "running"
    assert second_run["started_at"] != first_run["started_at"]


def test_waiting_page_of_a_cancelled_job_gets_a_new_run(server: Server, site: TestSite) -> None:
    client = server.client("resume")
    task = client.start("resume", {"StartUrls": [site.abs("/slow/?delay=1")]})[0]
    job = job_task(client, "resume")
    cancelled = client.call("POST", f"/v1/tasks/{job['id']}/cancel")
    assert cancelled.status == 200 and cancelled.json["status"] == "cancelled"
    answer = client.ready("GET", f"/api/v2/tasks/{task['Id']}/scrape",
                          params={"selector": "CSS: h1"})
    assert answer.status == 200
    assert client.info(task["Id"])["TaskState"] == "Handled"


def test_quiet_job_gives_its_process_to_a_waiting_run(
        tmp_path: Path, site: TestSite) -> None:
    server = start_server(tmp_path, CRAWLPLANE_MAX_PROCESSES="1",
                          CRAWLPLANE_JOB_IDLE_TIMEOUT="120")
    try:
        client = server.client("one-slot")
        job = client.start("one-slot", {"StartUrls": [site.abs("/catalog/")]})[0]
        client.ready("GET", f"/api/v2/tasks/{job['Id']}/scrape", params={"selector": "CSS: h1"})
        created = client.call("POST", "/v1/tasks",
                              {"scheme": {"start_urls": [site.abs("/quotes/page/1/")]}})
        assert created.status == 201
        client.wait_status(created.json["id"], "completed", timeout=30)  # not the job's 120 s
        assert job_task(client, "one-slot")["status"] == "completed"
        # The job's next call launches it again.
        categories = client.crawl(job["Id"], "CSS: a.category")
        assert client.ready("GET", f"/api/v2/tasks/{categories[0]['Id']}/scrape",
                            params={"selector": "CSS: h1"}).json == ["Books"]
    finally:
        stop_server(server)
