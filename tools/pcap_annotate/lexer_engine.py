"""A RegexLexer that tries all the rules of a state in one regex match, same tokens.

Pygments' `RegexLexer` calls each rule's regex in turn at every position, so a line of
tcpdump output costs some two hundred `match` calls from Python. `AlternationLexer`
reads the same `tokens` table, as Pygments processed it (includes flattened, state
changes normalised), and joins each state's rules into one ordered alternation
`(?:r0)()|(?:r1)()|...`: Python's regex engine takes the first alternative that
matches at the position, as RegexLexer takes the first rule, and `lastindex` (the
empty group closes last) names the rule. A scanner matches token after token where
the last one ended, without setting up the regex engine's state again. What follows a
match (the token or callback, the state stack, the error and end-of-line fallback) is
RegexLexer's own loop, step for step. A rule that cannot share the regex (a back
reference, flags of its own other than a leading "(?s)"-like one) keeps its own regex,
tried in its place between the alternations of its neighbours.
"""

from __future__ import annotations

import re
from typing import NamedTuple

try:  # the parser behind re.compile (Python 3.11+); without it no rule counts as anchored
    from re import _constants as sre
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover - other Pythons
    sre = sre_parse = None

from pygments import lexer as pygments_lexer
from pygments.lexer import RegexLexer
from pygments.token import Error, Whitespace, _TokenType

# A rule that refers to a group by number or name would see the alternation's groups.
_BACKREFERENCE = re.compile(r"(?<!\\)(?:\\\\)*\\(?:[1-9]|g<)|\(\?P=|\(\?\(")
# Global flags a rule's regex starts with: "i", "m", "s" can be scoped to the rule instead
# ("x" not: a comment at the end would swallow the closing parenthesis).
_LEADING_FLAGS = re.compile(r"(?:\(\?[aiLmsux]+\))+")
_SCOPED_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


def bygroups(*actions):
    """Pygments' `bygroups`, which also tells the engine its token per group."""
    callback = pygments_lexer.bygroups(*actions)
    callback.actions = actions
    return callback


class Rule(NamedTuple):
    """One rule inside its state's alternation: what a match of it yields, where it goes."""

    token: _TokenType | None  # the whole match's token
    groups: tuple[tuple[int, _TokenType], ...]  # bygroups: (group in the alternation, token)
    callback: object  # any other callback, given a match of the rule's own regex
    match: object  # the rule's own regex (Pygments' compiled match)
    new_state: object  # as Pygments processed it: None, tuple, int (pops) or "#push"


class State(NamedTuple):
    """A state's regex (or `Segments`); `rules[group]` is the rule whose marker group that is."""

    pattern: re.Pattern | Segments
    rules: list[Rule | None]


def compile_state(rules: list[tuple], flags: int) -> State:
    """Join a processed state's (match, action, new_state) rules, in order, into one regex.

    Each rule becomes `(?:rule)()`: the empty group closes last, so `lastindex` names the
    rule, and a rule that starts with a literal character is skipped by the regex engine
    at a glance. Consecutive rules that can only match where a line starts (`^...`) go
    under one `^(?:...)`, tried once away from a line's start instead of once per rule.
    A rule that cannot join (a back reference, flags of its own) keeps its own regex,
    between the alternations of the rules around it (`Segments`).
    """
    patterns = [rule_match.__self__ for rule_match, _, _ in rules]  # Pygments keeps .match
    base_flags = re.compile("", flags).flags
    sources = [_joinable_source(pattern, base_flags) for pattern in patterns]
    runs: list[tuple[bool, list[int]]] = []  # (joinable, rule numbers), in table order
    for number, source in enumerate(sources):
        joinable = source is not None
        if joinable and runs and runs[-1][0]:
            runs[-1][1].append(number)
        else:
            runs.append((joinable, [number]))
    by_group: list[Rule | None] = [None]
    if len(runs) == 1 and runs[0][0] or not runs:
        return State(
            _alternation(patterns, sources, rules, list(range(len(rules))), flags, by_group),
            by_group,
        )
    segments = []
    for joinable, numbers in runs:
        if joinable:
            own_groups: list[Rule | None] = [None]
            alternation = _alternation(patterns, sources, rules, numbers, flags, own_groups)
            segments.append((alternation.match, len(by_group) - 1, None))
            by_group += own_groups[1:]
        else:  # matched by its own regex: its group n is group n of the match
            (number,) = numbers
            segments.append((rules[number][0], 0, len(by_group)))
            by_group.append(_rule(0, patterns[number].groups, *rules[number]))
    return State(Segments(segments), by_group)


def _joinable_source(pattern: re.Pattern, base_flags: int) -> str | None:
    """The rule's regex as it can stand in an alternation, or None if it cannot."""
    if _BACKREFERENCE.search(pattern.pattern) or "(?P<" in pattern.pattern:
        return None  # a group named twice in one regex would not compile
    leading = _LEADING_FLAGS.match(pattern.pattern)  # "(?s)..." becomes "(?s:...)"
    if leading:
        letters = "".join(sorted(set(leading[0]) - set("(?)")))
        bits = sum(_SCOPED_FLAGS.get(letter, 0) for letter in letters)
        if set(letters) <= set(_SCOPED_FLAGS) and pattern.flags == base_flags | bits:
            return f"(?{letters}:{pattern.pattern[leading.end() :]})"
        return None
    if pattern.flags == base_flags or not pattern.pattern:  # default(): ''
        return pattern.pattern
    return None


def _alternation(
    patterns, sources, rules, numbers: list[int], flags: int, by_group: list
) -> re.Pattern:
    """The rules `numbers` as one regex; their plans appended to `by_group` by group."""
    alternatives: list[str] = []
    anchored_run: list[str] = []  # consecutive rules that need a line start
    end_of_rule = "\n" if flags & re.VERBOSE else ""  # ends a verbose rule's last comment
    for number in numbers:
        pattern = patterns[number]
        first = len(by_group) - 1  # the rule's groups follow those before it
        alternative = f"(?:{sources[number]}{end_of_rule})()"
        by_group.extend([None] * pattern.groups)
        by_group.append(_rule(first, pattern.groups, *rules[number]))
        if needs_line_start(pattern):
            anchored_run.append(alternative)
            continue
        if anchored_run:
            alternatives.append(f"^(?:{'|'.join(anchored_run)})")
            anchored_run = []
        alternatives.append(alternative)
    if anchored_run:
        alternatives.append(f"^(?:{'|'.join(anchored_run)})")
    return re.compile("|".join(alternatives) or "(?!)", flags)


class Segments:
    """A state's rules as regexes tried in turn: alternations, and rules that stay alone.

    A segment is (match, offset, slot): group g of an alternation's match is group
    `offset + g` of the state; a rule alone is always `slot`.
    """

    def __init__(self, segments: list[tuple]):
        self.segments = segments

    def scanner(self, text: str, pos: int) -> SegmentScanner:
        return SegmentScanner(self.segments, text, pos)


class SegmentScanner:
    """`Pattern.scanner` for `Segments`: matches where the last match ended."""

    def __init__(self, segments: list[tuple], text: str, pos: int):
        self.segments, self.text, self.pos = segments, text, pos

    def match(self) -> SegmentMatch | None:
        for match, offset, slot in self.segments:
            found = match(self.text, self.pos)
            if found:
                self.pos = found.end()
                return SegmentMatch(found, offset + found.lastindex if slot is None else slot)
        return None


class SegmentMatch(NamedTuple):
    """A segment's match; `lastindex` is its rule's marker group in the state's numbering."""

    found: re.Match
    lastindex: int

    def group(self, *groups):
        return self.found.group(*groups)

    def start(self, group: int = 0) -> int:
        return self.found.start(group)

    def end(self) -> int:
        return self.found.end()


def needs_line_start(pattern: re.Pattern) -> bool:
    """True if every match of `pattern` starts with `^` or `\\A` (False when unsure)."""
    if sre_parse is None:
        return False
    return _anchored(sre_parse.parse(pattern.pattern, pattern.flags).data)


def _anchored(items) -> bool:
    for op, argument in items:
        if op is sre.AT and argument in (sre.AT_BEGINNING, sre.AT_BEGINNING_STRING):
            return True
        if op is sre.AT or op in (sre.ASSERT, sre.ASSERT_NOT):
            continue  # zero width, before any character is read
        if op is sre.SUBPATTERN and not (argument[1] or argument[2]):  # no local flags
            return _anchored(argument[-1])
        if op is sre.BRANCH:
            return all(_anchored(branch) for branch in argument[1])
        return False
    return False


def _rule(first: int, group_count: int, rule_match, action, new_state) -> Rule:
    """The rule's plan; a bygroups rule's group n is group `first + n` of the alternation."""
    if action is None or type(action) is _TokenType:
        return Rule(action, (), None, rule_match, new_state)
    actions = getattr(action, "actions", None)
    if (
        actions is not None
        and len(actions) <= group_count
        and all(a is None or type(a) is _TokenType for a in actions)
    ):
        groups = tuple(
            (first + number, token) for number, token in enumerate(actions, 1) if token is not None
        )
        return Rule(None, groups, None, rule_match, new_state)
    return Rule(None, (), action, rule_match, new_state)


class AlternationLexer(RegexLexer):
    """RegexLexer's tokens from one alternation per state; subclasses give `tokens`."""

    def get_tokens_unprocessed(self, text, stack=("root",), offset=0):
        """RegexLexer's (index, token, value) triples; indexes counted from `offset`."""
        states = _compiled(type(self), self._tokens)
        pos, end = 0, len(text)
        statestack = list(stack)
        pattern, rules = states[statestack[-1]]
        scan = pattern.scanner(text, pos).match
        while True:
            found = scan()
            if found:
                token, groups, callback, rule_match, new_state = rules[found.lastindex]
                if token is not None:
                    yield offset + pos, token, found.group()
                elif groups:
                    for group, token in groups:
                        data = found.group(group)
                        if data:
                            yield offset + found.start(group), token, data
                elif callback is not None:
                    for index, token, value in callback(self, rule_match(text, pos)):
                        yield offset + index, token, value
                matched_to = found.end()
                if new_state is not None:
                    _change_state(statestack, new_state)
                    pattern, rules = states[statestack[-1]]
                    scan = pattern.scanner(text, matched_to).match
                elif matched_to == pos:  # a scanner never matches empty twice at one place
                    scan = pattern.scanner(text, pos).match
                pos = matched_to
                continue
            if pos >= end:
                return
            if text[pos] == "\n":  # no rule matched: at a line's end, back to "root"
                statestack = ["root"]
                pattern, rules = states["root"]
                yield offset + pos, Whitespace, "\n"
            else:
                yield offset + pos, Error, text[pos]
            pos += 1
            scan = pattern.scanner(text, pos).match  # a scanner stops at its first miss


def _change_state(statestack: list[str], new_state) -> None:
    """RegexLexer's state transition, in place: a tuple of names, '#pop', '#push'; an int pops."""
    if isinstance(new_state, tuple):
        for state in new_state:
            if state == "#pop":
                if len(statestack) > 1:
                    statestack.pop()
            elif state == "#push":
                statestack.append(statestack[-1])
            else:
                statestack.append(state)
    elif isinstance(new_state, int):
        if abs(new_state) >= len(statestack):  # never pops the last state
            del statestack[1:]
        else:
            del statestack[new_state:]
    elif new_state == "#push":
        statestack.append(statestack[-1])
    else:
        raise ValueError(f"wrong state def: {new_state!r}")


def _compiled(cls: type, processed: dict) -> dict[str, State]:
    """The class's alternations, compiled on first use (the table is fixed per class)."""
    states = cls.__dict__.get("_alternations")
    if states is None:
        states = {name: compile_state(rules, cls.flags) for name, rules in processed.items()}
        cls._alternations = states
    return states
