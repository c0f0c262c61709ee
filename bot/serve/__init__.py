"""`bot serve`: the REST API, Prometheus metrics and the dashboard over one account's files."""
