"""Workers: the supervisor that claims jobs and the executors that run each one in a child process."""
