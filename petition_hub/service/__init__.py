"""The worker as a service: the faust app (:mod:`.app`) and the worker built on it with every
agent (:mod:`.worker`), its web endpoints, metrics, settings, logs, and the services beside the
stages (erasure, live configuration, the schema registry view)."""
