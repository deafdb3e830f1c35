"""HTTP service: tracking, statistics API, admin API, health and metrics."""
