"""Development and test tooling: the local stack and the pytest fixtures. Installed with the
development dependencies only, never into a service image."""
