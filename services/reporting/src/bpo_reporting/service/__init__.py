"""Use cases: the projections (events in), the reports (figures out), the dashboard's page of
them, and the rebuild of the read models from the stream."""
