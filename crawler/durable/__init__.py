"""The durable stage."""
