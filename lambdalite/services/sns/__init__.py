"""SNS-compatible service (query protocol, XML)."""

from lambdalite.services.sns.service import SnsService, is_sns_form

__all__ = ["SnsService", "is_sns_form"]
