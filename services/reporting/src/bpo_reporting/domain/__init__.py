"""The pure rules of reporting: what an event adds to the rollups (projections), and the
figures the reports make of them (buckets, turnaround percentiles, ratios, money, the SLA
forecast, the dashboard's series). No I/O: unit-tested without a server."""
