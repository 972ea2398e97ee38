"""The arq queues; light to import, so the command line can name them."""

from __future__ import annotations

import enum

from guanai.settings import Settings


class Queue(enum.StrEnum):
    main = "main"
    escalations = "escalations"


#: How long a job on each queue may run before arq gives up on it. Escalations are short,
#: so one lost with a killed worker is retried within a minute (arq retries a job once
#: its in-progress mark, the longest timeout + 10 s, expires), not after five.
QUEUE_TIMEOUT = {Queue.main: 300.0, Queue.escalations: 30.0}


def queue_name(settings: Settings, queue: Queue) -> str:
    return settings.arq_escalation_queue if queue is Queue.escalations else settings.arq_queue
