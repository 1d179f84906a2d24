"""Administration: the ``audit`` log (written by every admin act, and read), administrators'
``user_management`` (roles, disabling), and ``reports`` of verified reductions."""

from app.services.admin.errors import SelfChangeRefused

__all__ = ["SelfChangeRefused"]
