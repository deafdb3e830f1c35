"""Tidings: the relay processes (SMTP submission, queue, delivery, bounces)."""

__version__ = "0.1.0"
