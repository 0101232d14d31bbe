"""What every service reports about itself: Prometheus metrics (`metrics.py`), the health,
readiness and metrics endpoints (`health.py`), traces (`tracing.py`) and logs (`logs.py`)."""
