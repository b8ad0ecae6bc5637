"""gpu-cockpit: a terminal cockpit for ML experiments on Kubernetes GPU clusters."""

__version__ = "0.1.0"
USER_AGENT = f"gpu-cockpit/{__version__}"
