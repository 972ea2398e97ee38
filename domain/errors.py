"""Domain errors carry a translatable message and its parameters, never finished text.

The bot's error handler and the CLI translate them into the user's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class DomainError(Exception):
    """A rule said no; `message` is a msgid of the translation catalogue."""

    message = "Something went wrong."

    def __init__(self, **params: Any) -> None:
        super().__init__(self.message.format(**params) if params else self.message)
        self.params = params


@dataclass(frozen=True)
class Held:
    """A parameter: something on record that a removal would cut off; `what` is a message
    id ("children", "check-ins"…), `count` how many."""

    what: str
    count: int


class UnknownRegion(DomainError):
    message = "No site or region has the code {code}."


class QuestionSettled(DomainError):
    message = "The coordinator has already decided about this check-in. Thank you!"


class BadReviewSetting(DomainError):
    message = "{setting} must be between {low} and {high}."


class RegionExists(DomainError):
    message = "A site or region with the code {code} already exists."


class BadParent(DomainError):
    message = "A {kind} cannot be placed under a {parent_kind}."


class NeedsParent(DomainError):
    message = (
        "A {kind} is added under its {parent_kind}: give the {parent_kind}'s code as --parent."
    )


class AlreadyCoordinator(DomainError):
    message = "This person already coordinates {code}."


class NotAllowed(DomainError):
    message = "This is outside your scope."


class UnknownChild(DomainError):
    message = "No such child in your area."


class UnknownVolunteer(DomainError):
    message = "No such volunteer in your area."


class AlreadyPaired(DomainError):
    message = "This volunteer is already paired with this child."


class NotPaired(DomainError):
    message = "This volunteer is not paired with this child."


class InvitationUnknown(DomainError):
    message = "This invitation link is not valid. Please ask your coordinator for a new one."


class InvitationUsed(DomainError):
    message = (
        "This invitation link has already been used. Please ask your coordinator for a new one."
    )


class InvitationExpired(DomainError):
    message = "This invitation link has expired. Please ask your coordinator for a new one."


class InvitationNotForSite(DomainError):
    message = "Invitations are for a school, village or community, not for {code}."


class OutOfScope(DomainError):
    """It exists, but outside the asker's scope: answered like a missing thing (so nothing
    leaks) and recorded in the audit log as `scope.refused` by whoever catches it."""

    subject_type = "unknown"

    def __init__(self, subject_id: int, **params: Any) -> None:
        super().__init__(**params)
        self.subject_id = subject_id


class ChildOutOfScope(UnknownChild, OutOfScope):
    subject_type = "child"


class VolunteerOutOfScope(UnknownVolunteer, OutOfScope):
    subject_type = "volunteer"


class InvitationOutOfScope(InvitationUnknown, OutOfScope):
    subject_type = "invitation"


class UnknownEscalation(DomainError):
    message = "No such escalation in your area."


class EscalationOutOfScope(UnknownEscalation, OutOfScope):
    subject_type = "escalation"


class RegionOutOfScope(UnknownRegion, OutOfScope):
    subject_type = "region"


class UnknownPlace(DomainError):
    """A site or region asked for by its id (a button), not by a code the asker typed."""

    message = "No such site or region in your area."


class PlaceOutOfScope(UnknownPlace, OutOfScope):
    """Answered exactly as a missing id: its code or name would tell what lies outside."""

    subject_type = "region"


class UnknownCheckIn(DomainError):
    message = "No such check-in in your area."


class CheckInOutOfScope(UnknownCheckIn, OutOfScope):
    subject_type = "checkin"


class AmbiguousChild(DomainError):
    message = "Several children are called {name}; give the id of one of them: {candidates}"


class AmbiguousVolunteer(DomainError):
    message = "Several volunteers match {ref}; give the volunteer id of one of them: {candidates}"


class NotAVolunteerRef(DomainError):
    message = "No volunteer has the id, Telegram id or phone number {ref}."


class NotBelowScope(DomainError):
    message = "A coordinator can only be invited for a site or region below yours."


class NobodyToMessage(DomainError):
    message = "Nobody is paired with this child to message yet."


class NotInChat(DomainError):
    message = "This volunteer has not joined the bot yet; please phone them."


class NotASite(DomainError):
    message = "{code} is not a school, village or community."


class NotYourChild(DomainError):
    message = "This child is not paired with you."


class NoActivity(DomainError):
    message = "Please choose at least one thing you did."


class TooFarBack(DomainError):
    message = "A visit can be recorded up to {days} days later."


class BadVisitAnswer(DomainError):
    message = "This answer is not one of the choices."
