"""Resumable dataset uploads (tus 1.0: core, creation, termination): the protocol's headers, an upload's durable
state and where its bytes go. No HTTP framework here: app/api/routes/uploads.py is the edge."""
