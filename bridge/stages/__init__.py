"""Built-in pipeline stages: thin adapters from ``realtime_models`` to the Stage seam."""
