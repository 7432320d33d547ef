"""The worker as a service: the faust app, its web endpoints, metrics, settings, logs, and the
services beside the stages (erasure, live configuration, the schema registry view)."""
