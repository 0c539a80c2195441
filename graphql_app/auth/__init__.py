"""Authentication: password hashing, JWT keys and tokens, sessions, and the service that
combines them."""
