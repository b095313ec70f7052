"""Webhooks: subscriptions, signed deliveries kept in the job store and retried with backoff across restarts."""
