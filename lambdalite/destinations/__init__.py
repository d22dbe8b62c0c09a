"""Where ended async events go: destinations (SQS, EventBridge, Lambda, SNS, S3) and dead-letter queues."""
