"""Handing a new privacy request to the job worker: the `privacy_requests` job is deferred on
the procrastinate queue at once instead of waiting for its next periodic trigger."""

from __future__ import annotations

import logging
import time

from procrastinate import exceptions

from apex_mediation.jobs.worker import QUEUE, make_app
from apex_mediation.services import Services

log = logging.getLogger(__name__)
JOB = "privacy_requests"


async def defer(services: Services) -> bool:
    """Queue a run now; False if one is already queued (it serves this request too) or the
    queue could not be reached (the job's periodic trigger serves it then)."""
    app = make_app(services, names=())
    try:
        async with app.open_async():
            task = app.configure_task(name=f"apex.jobs.{JOB}", queue=QUEUE, queueing_lock=JOB)
            await task.defer_async(timestamp=int(time.time()))
    except exceptions.AlreadyEnqueued:
        return False
    except Exception as exc:  # the request is recorded; only the head start is lost
        log.warning("could not queue the %s job (%s); its periodic trigger will run it", JOB, exc)
        return False
    return True
