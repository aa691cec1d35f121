"""The rule settings types: one ``[[rules]]`` entry validated into a ``Rule`` with its ``Step``s.

Holds ``Rule`` (``detect = "handoff"`` or ``"standoff"``, validated per kind), ``Step`` (one
escalation step), ``Trigger`` (an event kind in a handoff rule's ``on``) and the template
vocabulary rules write with: ``PLACEHOLDERS``, ``BUILTIN_TEMPLATES`` and the per-action template
defaults. ``bridge.config`` assembles these into ``Config.rules``; ``rules.handoff`` and
``rules.standoff`` take them as input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, PlainSerializer, PlainValidator, PrivateAttr, WithJsonSchema, field_validator, model_validator

from bridge.core.businesstime import Duration
from bridge.core.fields import DurationField, StrictModel, Text, ToolName
from bridge.core.model import EventKind
from rules.feedback import FeedbackOverride

__all__ = [
    "BUILTIN_TEMPLATES",
    "ASSIGNEE",
    "PLACEHOLDERS",
    "PROMISE_TEMPLATE_DEFAULTS",
    "STANDOFF_TEMPLATE_DEFAULTS",
    "STEP_TEMPLATE_DEFAULTS",
    "Rule",
    "Step",
    "Trigger",
    "TriggerField",
]

#: Names a template may use, each written ``{name}``.
PLACEHOLDERS = frozenset({"receiver", "sender", "need", "item", "title", "deadline", "next", "url", "rule", "to",
                          "cycle", "decider", "decision", "blocker", "since",
                          "promise", "when", "written", "quote", "missing", "handed", "answer",
                          "away", "until", "team"})

#: Templates that exist unless ``[templates]`` overrides them.
BUILTIN_TEMPLATES: dict[str, str] = {
    "nudge": "{receiver}: I need your {need} of {item} by {deadline} to move it to {next}.",
    # An adopted handoff (found already overdue at a first start or after an outage): the deadline
    # named is the restarted one, and the comment says since when it has waited.
    "nudge_adopted": "{receiver}: {item} has waited for your {need} since {since}. I need it by {deadline} "
                     "to move it to {next}.",
    # A handoff delegated because its receiver is away (rules.away): {receiver} is the delegate,
    # {away} the away person's name (never a mention: nothing is sent to them), {until} their last day away.
    "nudge_delegated": "{receiver}: {away} is away until {until} and named you as delegate. I need your {need} "
                       "of {item} by {deadline} to move it to {next}.",
    "reassign": (
        "{to}: {item} has waited for {receiver}'s {need} since {deadline}. "
        "I am handing it to you: I need your {need} to move it to {next}."
    ),
    "draft_title": "{need} needed: {title}",
    "draft": "{receiver}: I need your {need} of {item} ({url}) by {deadline} to move it to {next}.",
    "standoff": (
        "Standoff: {cycle}. Nobody can move until one of these waits ends. "
        "Proposal: {decider} decides {decision} by {deadline}."
    ),
    "standoff_draft_title": "Decide: {decision}",
    "standoff_draft": "{decider}: {cycle}. Please decide {decision} by {deadline}.",
    "ownerless": "{receiver}: {item} waits on {blocker}, which nobody holds. Please find it an owner, or drop the dependency, by {deadline}.",
    # promises: {receiver} is the author who owes it, {sender} whom it is owed to, {promise} what
    # was promised, {when} " by <the time named>" (empty when none was), {written} the weekday it
    # was written, {quote} the promising sentence as written (escaped)
    "promise": "{receiver}: on {written} you wrote you'd {promise}{when}; it is not there yet. You wrote: \u201c{quote}\u201d",
    # an incomplete handoff (a rule's require): {receiver} is its sender, {missing} what it lacks,
    # {handed} how it was handed over ("moved to Ready for QA")
    "incomplete": ("{receiver}: {item} was handed over ({handed}) without {missing}. Please add {missing}: "
                   "the receiver's clock starts when it is complete."),
    # the reply to a /hb command: {receiver} is who wrote it, {answer} what it did
    "command_reply": "{receiver}: {answer}",
    # a handoff to a configured team ([teams.*]): {receiver} is the team's lead, {team} its name
    "nudge_team": ("{receiver}: {sender} requested {need} of {item} from the {team} team on {since}, and nobody in "
                   "the team has picked it up. As its lead: I need someone's {need} by {deadline} to move it to {next}."),
    # a review requested from a team no [teams.*] names: {receiver} is who requested it
    "ownerless_team": ("{receiver}: you requested {need} of {item} from the {team} team, and nobody in particular "
                       "owns it (\u201cthe {team} team owns it\u201d is not ownership). Please name one person: "
                       "request their review or assign them."),
    "promise_draft_title": "Promised: {promise}",
    "promise_draft": "{receiver}: on {written} you wrote on {item} ({url}) that you'd {promise}{when}; it is not there yet. "
                     "You wrote: \u201c{quote}\u201d",
}

#: Step templates of a ``promise`` rule when the step names none.
PROMISE_TEMPLATE_DEFAULTS = {"comment": "promise", "draft": "promise_draft"}

#: Step templates of a ``standoff`` rule when the step names none.
STANDOFF_TEMPLATE_DEFAULTS = {"comment": "standoff", "draft": "standoff_draft"}

#: Step templates when the step names none (``label`` writes no text); a ``standoff`` rule then
#: takes ``STANDOFF_TEMPLATE_DEFAULTS`` instead.
STEP_TEMPLATE_DEFAULTS = {"comment": "nudge", "reassign": "reassign", "draft": "draft"}
_RULE_NAME = re.compile(r"[a-z0-9-]+")

#: What a handoff rule's ``require`` may name (besides ``checklist:<heading>``).
REQUIREMENTS = ("receiver", "due", "description")

#: ``owner = "assignee"`` on a status trigger: the item's assignees when it enters the status.
ASSIGNEE = "assignee"


@dataclass(frozen=True)
class Trigger:
    """One event kind that passes the baton: review requested, assigned, a label, or a status.

    ``kind`` is ``EventKind.REVIEW_REQUESTED``, ``ASSIGNED``, ``LABELED`` (``label`` names the
    label; the receivers are the item's assignees at that moment) or ``STATUS_CHANGED``
    (``status`` names a handoff point: a Jira status or an Asana section, compared without
    regard to case). A status hands the item to the assignee set in the same change, else to
    ``owner``: a ``[people.*]`` name (ownership is explicit, a person, never a team), or
    ``ASSIGNEE`` (``"assignee"``: the item's assignees at that moment). ``owner`` is required.
    """

    kind: EventKind
    label: str | None = None
    status: str | None = None
    owner: str | None = None

    def __str__(self) -> str:
        if self.status is not None:
            return f"status:{self.status}"
        return f"label:{self.label}" if self.label is not None else self.kind.value

    def matches(self, kind: EventKind, label: str | None = None) -> bool:
        """Return whether an event of ``kind`` (with ``label`` for labeled events) is this trigger."""
        return kind == self.kind and (self.label is None or label == self.label)


_TRIGGER_HELP = (
    "expected \"review_requested\", \"assigned\", { label = \"...\" } "
    "or { status = \"...\", owner = \"<person>\" | \"assignee\" }"
)


def _trigger(value: Any) -> Trigger:
    if isinstance(value, Trigger):
        return value
    if value in ("review_requested", "assigned"):
        return Trigger(EventKind(value))
    if isinstance(value, dict):
        if set(value) == {"label"} and isinstance(value["label"], str) and value["label"]:
            return Trigger(EventKind.LABELED, value["label"])
        if "status" in value and set(value) <= {"status", "owner"}:
            status, owner = value["status"], value.get("owner")
            if not isinstance(status, str) or not status.strip():
                raise ValueError(f"status must be a non-empty status or section name; {_TRIGGER_HELP}")
            if owner is None:
                raise ValueError("a status handoff point needs owner = \"<person>\" (who receives it when the "
                                 "move assigns nobody), or owner = \"assignee\" (the item's assignees)")
            if not isinstance(owner, str) or not owner:
                raise ValueError("owner must name a [people.*] entry, or be \"assignee\"")
            return Trigger(EventKind.STATUS_CHANGED, status=status.strip(), owner=owner)
    raise ValueError(f"unknown trigger, {_TRIGGER_HELP}")


def _trigger_json(t: Trigger) -> Any:
    if t.status is not None:
        return {"status": t.status, **({"owner": t.owner} if t.owner else {})}
    return {"label": t.label} if t.label is not None else t.kind.value


TriggerField = Annotated[
    Trigger,
    PlainValidator(_trigger),
    PlainSerializer(_trigger_json),
    WithJsonSchema(
        {
            "oneOf": [
                {"enum": ["review_requested", "assigned"]},
                {
                    "type": "object",
                    "properties": {"label": {"type": "string", "minLength": 1}},
                    "required": ["label"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "description": "a handoff point: a Jira status or an Asana section",
                    "properties": {
                        "status": {"type": "string", "minLength": 1},
                        "owner": {"type": "string", "minLength": 1,
                                  "description": "a [people.*] name, or \"assignee\" (the item's assignees)"},
                    },
                    "required": ["status", "owner"],
                    "additionalProperties": False,
                },
            ]
        }
    ),
]


class Step(StrictModel):
    """One escalation step: ``after`` business time past the deadline, ``do`` an action.

    ``template`` defaults to ``nudge`` (comment), ``reassign`` (reassign) or ``draft`` (draft);
    ``title_template`` (draft only) defaults to ``draft_title``. ``to`` names a ``[people.*]``
    entry (reassign); ``label`` the label to add (label).
    """

    after: DurationField = Field(default="0h", validate_default=True, description="business time past the deadline")
    do: Literal["comment", "reassign", "label", "draft"]
    to: Text | None = None
    template: Text | None = None
    title_template: Text | None = None
    _defaulted: set[str] = PrivateAttr(default_factory=set)  # keys filled in by default, not written
    label: Text | None = None

    @model_validator(mode="after")
    def _defaults(self) -> "Step":
        self._defaulted = {k for k in ("template", "title_template") if getattr(self, k) is None}
        if self.template is None and self.do in STEP_TEMPLATE_DEFAULTS:
            self.template = STEP_TEMPLATE_DEFAULTS[self.do]
        if self.title_template is None and self.do == "draft":
            self.title_template = "draft_title"
        return self


class Rule(StrictModel):
    """``[[rules]]``: what to detect, on which tools, the deadline and the escalation steps.

    ``detect = "promise"`` (``rules.promise``): a comment in which its author commits to
    something is an obligation of the author; ``within`` (default ``1d``, business time of the
    author) is when a promise that names no time falls due, ``before_due`` brings every
    deadline forward by that much business time (nudge before the promised time), steps may
    comment, draft or label.

    ``detect = "handoff"`` needs ``on``, ``within``, ``need`` and ``next``; ``before_due``
    (business time) brings the deadline forward so that much remains before the item's due
    date. ``require`` lists what a handoff must carry (``REQUIREMENTS`` and ``checklist:<heading>``,
    see ``rules.handoff.missing``): one handoff lacking any gets a comment to its sender first
    (template ``incomplete``), and the receiver's ``within`` starts when it is complete
    (``clock = "complete"``, the default) or when it was sent (``clock = "sent"``).
    ``detect = "standoff"`` takes ``min_age`` (business time every wait-for edge must
    have lasted, default ``1d``), ``blocked_statuses`` (statuses/sections meaning "waiting on
    what I link to") and ``within`` (time the decider gets, default ``1d``).
    """

    name: str = Field(pattern=r"^[a-z0-9-]+$")
    detect: Literal["handoff", "standoff", "promise"]
    tools: list[ToolName] | None = Field(
        default=None, min_length=1, json_schema_extra={"uniqueItems": True}, description="default: every configured tool"
    )
    on: list[TriggerField] = Field(default_factory=list)
    within: DurationField | None = None
    need: Text | None = None
    next: Text | None = None
    before_due: DurationField | None = Field(default=None, description="handoff: business time kept free before the item's due date")
    min_age: DurationField | None = Field(default=None, description="standoff: business time every edge must have lasted (default 1d)")
    blocked_statuses: list[Text] = Field(default_factory=list, description="standoff: statuses that wait on the items they link to")
    dry_run: bool = False
    leads: list[Text] = Field(default_factory=list, description=(
        "[people.*] names who may give any /hb command on this rule's items (besides receiver and sender)"))
    require: list[Text] = Field(default_factory=list, json_schema_extra={"uniqueItems": True}, description=(
        'handoff: what a handoff must carry: "receiver", "due", "description", "checklist:<heading>"'))
    clock: Literal["complete", "sent"] = Field(default="complete", description=(
        "handoff with require: the receiver's clock starts when the handoff is complete, or when it was sent"))
    steps: list[Step] = Field(min_length=1, description="at least one; a rule with none would act on nothing")
    feedback: FeedbackOverride | None = Field(default=None, description=(
        "this rule's limits for going quiet on feedback (keys of [feedback] but window); default [feedback]'s"))

    @field_validator("require")
    @classmethod
    def _require(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry not in REQUIREMENTS and not (entry.startswith("checklist:") and entry[len("checklist:"):].strip()):
                raise ValueError(f"unknown requirement {entry!r}: expected \"receiver\", \"due\", \"description\" "
                                 f"or \"checklist:<heading>\" (e.g. \"checklist:Acceptance criteria\")")
        if len(set(value)) != len(value):
            raise ValueError("each requirement may appear only once")
        return value

    @model_validator(mode="after")
    def _per_detector(self) -> "Rule":
        # Keys that belong to the other detector, and missing handoff keys, are reported with
        # their paths by bridge.config.problems.cross_problems; here the standoff defaults are filled in.
        if self.detect == "promise":
            self.within = self.within or Duration.parse("1d")
            self.need = self.need or "promise"
            self.next = self.next or "kept"
            for step in self.steps:
                if "template" in step._defaulted and step.do in PROMISE_TEMPLATE_DEFAULTS:
                    step.template = PROMISE_TEMPLATE_DEFAULTS[step.do]
                if "title_template" in step._defaulted and step.do == "draft":
                    step.title_template = "promise_draft_title"
        if self.detect == "standoff":
            self.min_age = self.min_age or Duration.parse("1d")
            self.within = self.within or Duration.parse("1d")
            self.need = self.need or "decision"
            self.next = self.next or "move again"
            for step in self.steps:
                if "template" in step._defaulted and step.do in STANDOFF_TEMPLATE_DEFAULTS:
                    step.template = STANDOFF_TEMPLATE_DEFAULTS[step.do]
                if "title_template" in step._defaulted and step.do == "draft":
                    step.title_template = "standoff_draft_title"
        return self

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        if isinstance(value, str) and not _RULE_NAME.fullmatch(value):
            raise ValueError("rule names use only a-z, 0-9 and -")
        return value

    @field_validator("detect", mode="before")
    @classmethod
    def _detect(cls, value: Any) -> Any:
        if value not in ("handoff", "standoff", "promise"):
            raise ValueError("unknown detector, expected \"handoff\", \"standoff\" or \"promise\"")
        return value

    @field_validator("tools")
    @classmethod
    def _unique_tools(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("each tool may appear only once")
        return value
