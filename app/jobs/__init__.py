"""Background jobs: what runs on a schedule, in-process or in the worker."""
