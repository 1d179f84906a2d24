"""Communities' own errors. Generic ones are in ``app.kit.errors``."""

from __future__ import annotations

from app.kit.errors import Conflict


class MembershipLimitReached(
    Conflict, code="membership_limit", title="Membership limit reached"
): ...


class AlreadyMember(Conflict, code="already_member", title="Already a member"): ...


class MemberCodeRefused(Conflict, code="member_code_refused", title="Member code not usable"):
    """``reason``: ``code_unknown``, ``code_used`` or ``code_expired``."""


class ProjectClosed(Conflict, code="project_closed", title="Project not open for donations"): ...


class TargetReached(Conflict, code="target_reached", title="Project target reached"): ...


class OrganisationRetired(Conflict, code="organisation_retired", title="Organisation retired"): ...
