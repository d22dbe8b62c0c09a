"""lambdalite: a self-hosted AWS Lambda whose heart is asynchronous invocation."""

__version__ = "0.1.0"
