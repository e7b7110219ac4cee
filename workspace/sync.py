"""The workspace's background loop: publish approved requests and record partners' answers.

Runs inside ``riec web`` every ``RIEC_WEB_SYNC_SECONDS``, and at once after an approval. A
broker that is away is reported once per outage in the log and tried again on the next
round; approved requests wait in the database until then.
"""

from __future__ import annotations

import logging
import threading

from core.errors import RiecError
from core.settings import RiecSettings
from storage import Database
from workspace.request_topics import SyncReport, publish_approved, sync_answers

log = logging.getLogger("riec.workspace")


def sync_once(db: Database, settings: RiecSettings) -> SyncReport:
    published = publish_approved(db, settings)
    report = sync_answers(db, settings)
    report.published = published
    return report


class RequestSync:
    def __init__(self, db: Database, settings: RiecSettings) -> None:
        self._db, self._settings = db, settings
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="riec-request-sync", daemon=True)
        self._failing = False

    def start(self) -> None:
        self._thread.start()

    def nudge(self) -> None:
        """Run a round now (after an approval)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report = sync_once(self._db, self._settings)
                if self._failing:
                    log.warning("requests: broker reachable again")
                self._failing = False
                if report.published or report.answers or report.rejected:
                    log.info("requests: %s", report.summary())
            except RiecError as exc:
                if not self._failing:
                    log.warning(
                        "requests: %s; trying again every %ss", exc, self._settings.web_sync_seconds
                    )
                self._failing = True
            except Exception as exc:  # the loop must outlive one bad round
                log.error("requests: round failed (%s)", type(exc).__name__)
            self._wake.wait(self._settings.web_sync_seconds)
            self._wake.clear()
