"""The peers lambdalite is measured against: Celery and Dramatiq on a private Redis."""
