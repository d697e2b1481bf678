"""engine/runlog.py: which run's log a record of a shared crawl process goes to."""

from __future__ import annotations

import logging
from pathlib import Path

from scrapy.settings import Settings

from engine.runlog import RunLogRouter


def test_records_naming_no_crawler_go_to_the_run_that_has_the_process_alone(
        tmp_path: Path) -> None:
    fallback = logging.FileHandler(tmp_path / "shared.log")
    router = RunLogRouter(Settings({"LOG_LEVEL": "DEBUG"}), fallback)
    first, second = object(), object()  # (the router tells crawlers apart by identity)
    router.add(first, tmp_path / "first.log")
    router.add(second, tmp_path / "second.log")
    logger = logging.getLogger("tests.runlog")
    logger.propagate, logger.level = False, logging.DEBUG
    logger.addHandler(router)
    try:
        logger.info("two runs: nobody's")
        router.alone = first
        logger.info("alone: the first's")
        logger.info("the second's", extra={"crawler": second})
        router.alone = None
        logger.info("nobody's again")
    finally:
        logger.removeHandler(router)
        router.remove(first)
        router.remove(second)
        fallback.close()
    assert "alone: the first's" in (tmp_path / "first.log").read_text()
    assert "the second's" in (tmp_path / "second.log").read_text()
    assert "alone" not in (tmp_path / "second.log").read_text()
    shared = (tmp_path / "shared.log").read_text()
    assert "two runs: nobody's" in shared and "nobody's again" in shared
    assert "alone" not in shared and "the second's" not in shared


def test_records_below_the_log_level_are_not_written(tmp_path: Path) -> None:
    # As Scrapy has it, the root logger passes every record (NOTSET) and the handler filters.
    fallback = logging.FileHandler(tmp_path / "shared.log")
    fallback.setLevel(logging.INFO)
    router = RunLogRouter(Settings({"LOG_LEVEL": "INFO"}), fallback)
    run = object()
    router.add(run, tmp_path / "run.log")
    logger = logging.getLogger("tests.runlog.level")
    logger.propagate, logger.level = False, logging.NOTSET
    logger.addHandler(router)
    try:
        logger.debug("Crawled (200) <GET http://site/>", extra={"crawler": run})
        logger.info("Spider opened", extra={"crawler": run})
        logger.debug("Using reactor")
        logger.warning("nobody's warning")
    finally:
        logger.removeHandler(router)
        router.remove(run)
        fallback.close()
    written = (tmp_path / "run.log").read_text().splitlines()
    assert len(written) == 1 and written[0].endswith("INFO: Spider opened"), written
    assert (tmp_path / "shared.log").read_text().splitlines() == ["nobody's warning"]
