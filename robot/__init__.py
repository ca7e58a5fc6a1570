"""robot: an offline voice robot for anti-fraud warning and dissuasion calls."""

__version__ = "0.1.0"
