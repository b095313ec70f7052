"""Serving: load published versions once, keep them warm, and answer predictions."""
