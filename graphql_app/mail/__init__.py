"""Mail that is never lost: a queue in MongoDB, a worker per process, SMTP or an outbox."""
