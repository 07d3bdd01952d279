"""The core stage."""
