"""Messages on their way out: who receives them and the outbox."""
