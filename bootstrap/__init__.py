"""s3logs: AWS S3 server access logs into a typed, tested, documented warehouse table."""

__version__ = "0.1.0"
