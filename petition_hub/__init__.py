"""The enterprise petition hub (企业诉求): intake, routing, SLA clocks and metrics over Kafka."""

__version__ = "0.1.0"
