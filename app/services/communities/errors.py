"""Communities' own errors. Generic ones are in ``app.kit.errors``."""

from __future__ import annotations

from app.kit.errors import Conflict


class MembershipLimitReached(Conflict):
    code, title = "membership_limit", "Membership limit reached"


class AlreadyMember(Conflict):
    code, title = "already_member", "Already a member"


class MemberCodeRefused(Conflict):
    """``reason``: ``code_unknown``, ``code_used`` or ``code_expired``."""

    code, title = "member_code_refused", "Member code not usable"


class ProjectClosed(Conflict):
    code, title = "project_closed", "Project not open for donations"


class TargetReached(Conflict):
    code, title = "target_reached", "Project target reached"


class OrganisationRetired(Conflict):
    code, title = "organisation_retired", "Organisation retired"
