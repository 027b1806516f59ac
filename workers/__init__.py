"""The pipeline: RQ jobs that turn a stored request into an approval card, and deliver replies."""
