"""The officers' console and the supervisors' dashboard."""
