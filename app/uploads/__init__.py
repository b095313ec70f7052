"""Resumable dataset uploads (tus 1.0: core, creation, termination, expiration): the protocol's headers, an
upload's durable state, where its bytes go and when an unfinished one expires. No HTTP framework here:
app/api/routes/uploads.py is the edge."""
