"""Every query of the reporting service: the projections' writes, the reports' reads, and the
rebuild's lock and reset."""
