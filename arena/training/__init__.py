"""Offline training pipelines run through the arena (EmoDistill)."""
