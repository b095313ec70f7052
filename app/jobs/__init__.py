"""Training jobs: the Job data, the JobStore (all SQL lives there) and the submit/cancel service."""
