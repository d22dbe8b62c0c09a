"""The AWS-compatible HTTP surface: one app, routed per service (lambda, sqs, events)."""
