"""The arq workers: periodic jobs and the jobs the chat enqueues; they know the core only,
and reach a chat front through the interfaces of `domain.ports` (see `guanai.wiring`)."""
