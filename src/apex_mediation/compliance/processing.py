"""The `privacy_requests` job: builds the pending data exports. Deferred by the API when an
export is requested (deferral.py) and triggered every few minutes as well, so that a request
made while no worker ran is still served; tests run it in process."""

from __future__ import annotations

import datetime as dt
import logging

from apex_mediation.compliance import export, requests
from apex_mediation.services import Services

log = logging.getLogger(__name__)


# An export still running after this long was left by a process that stopped.
STALE_AFTER = dt.timedelta(hours=1)


async def run(services: Services, now: dt.datetime, dry_run: bool) -> dict[str, int]:
    requeued = 0
    if not dry_run:
        requeued = await requests.requeue_stale(services.postgres, "export", now - STALE_AFTER)
    pending = await requests.pending(services.postgres, "export")
    if dry_run:
        return {"pending": len(pending), "exported": 0, "failed": 0, "requeued": 0}
    exported = failed = 0
    for request_id in pending:
        try:
            exported += int(await export.run(services, request_id))
        except Exception:  # recorded on the request; the others still run
            log.exception("privacy export %s failed", request_id)
            failed += 1
    return {"pending": len(pending), "exported": exported, "failed": failed, "requeued": requeued}
