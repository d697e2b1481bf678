"""The `crawlplane` command against the running server: run --wait, tasks list|show."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.api.conftest import ApiServer, gen_scheme
from tests.site.fixture import TestSite


def test_run_wait_writes_results_then_tasks_list_and_show(api: ApiServer, site: TestSite,
                                                          tmp_path: Path) -> None:
    scheme_file = tmp_path / "scheme.json"
    scheme_file.write_text(json.dumps(gen_scheme(site, max_pages=12)))
    out = tmp_path / "out.csv"
    env = {**api.env, "CRAWLPLANE_URL": api.url, "CRAWLPLANE_API_KEY": api.keys["alice"]}
    done = api.cli("run", str(scheme_file), "--wait", "--name", "from-cli", "-o", str(out),
                   env=env)
    assert "12 items written" in done.stderr
    assert "pages" in done.stderr  # the progress line
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 12 and list(rows[0]) == ["title", "price"]
    truth = {i["title"]: i["price"] for i in site.truth("gen")["items"]}
    assert all(truth[r["title"]] == r["price"] for r in rows)

    listing = api.cli("tasks", "list", env=env).stdout.splitlines()
    mine = [line.split("\t") for line in listing if line.endswith("\tfrom-cli")]
    assert len(mine) == 1 and mine[0][1:3] == ["completed", "12"]
    shown = json.loads(api.cli("tasks", "show", mine[0][0], env=env).stdout)
    assert shown["id"] == mine[0][0] and shown["collected"] is True

    missing = api.cli("tasks", "show", "t_nope", env=env, check=False)
    assert missing.returncode != 0 and "404" in missing.stderr
    no_key = {k: v for k, v in env.items() if k != "CRAWLPLANE_API_KEY"}
    assert api.cli("tasks", "list", env=no_key, check=False).returncode != 0


def test_run_without_wait_prints_the_id(api: ApiServer, site: TestSite, tmp_path: Path) -> None:
    scheme_file = tmp_path / "scheme.json"
    scheme_file.write_text(json.dumps(gen_scheme(site, max_pages=2)))
    done = api.cli("run", str(scheme_file), "--url", api.url, "--key", api.keys["bob"])
    task_id = done.stdout.strip()
    assert task_id.startswith("t_")
    assert api.wait(task_id, key="bob")["status"] == "completed"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"start_urls": ["ftp://x/"]}))
    failed = api.cli("run", str(bad), "--url", api.url, "--key", api.keys["bob"], check=False)
    assert failed.returncode != 0 and "422" in failed.stderr and "start_urls" in failed.stderr


def test_webhook_secret_show_and_rotate_agree_with_the_api(api: ApiServer) -> None:
    shown = api.cli("webhook-secret", "show", "alice").stdout.strip().splitlines()[-1]
    assert shown == api.ok("GET", "/v1/webhook-secret")["secret"]
    rotated = api.cli("webhook-secret", "rotate", "alice").stdout.strip().splitlines()[-1]
    assert rotated != shown and rotated.startswith("whsec_")
    assert api.ok("GET", "/v1/webhook-secret")["secret"] == rotated
    # Another tenant's secret is its own; an unknown tenant is an error.
    assert api.cli("webhook-secret", "show", "bob").stdout.strip() != rotated
    missing = api.cli("webhook-secret", "show", "nobody", check=False)
    assert missing.returncode == 1 and "no tenant" in missing.stderr
