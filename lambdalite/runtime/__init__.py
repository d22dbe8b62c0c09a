"""Execution environments: warm subprocesses speaking the Lambda Runtime API to lambdalite."""
