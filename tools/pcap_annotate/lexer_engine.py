"""A RegexLexer that tries all the rules of a state in one regex match, same tokens.

Pygments' `RegexLexer` calls each rule's regex in turn at every position, so a line of
tcpdump output costs some two hundred `match` calls from Python. `AlternationLexer`
reads the same `tokens` table, as Pygments processed it (includes flattened, state
changes normalised), and joins each state's rules into one ordered alternation
`(r0)|(r1)|...`: Python's regex engine takes the first alternative that matches at the
position, as RegexLexer takes the first rule, and `lastindex` (the outermost group
closes last) names the rule. A scanner matches token after token at the position
where the last one ended, without setting up the regex engine's state again. What
follows a match (the token or callback, the state stack, the error and end-of-line
fallback) is RegexLexer's own loop, step for step.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from pygments import lexer as pygments_lexer
from pygments.lexer import RegexLexer
from pygments.token import Error, Whitespace, _TokenType

# A rule that refers to a group by number or name would see the alternation's groups.
_BACKREFERENCE = re.compile(r"(?<!\\)(?:\\\\)*\\(?:[1-9]|g<)|\(\?P=|\(\?\(")


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
    """A state's alternation; `rules[group]` is the rule whose outer group that is."""

    pattern: re.Pattern
    rules: list[Rule | None]


def compile_state(rules: list[tuple], flags: int) -> State:
    """Join a processed state's (match, action, new_state) rules, in order, into one regex."""
    alternatives: list[str] = []
    by_group: list[Rule | None] = [None]
    base_flags = re.compile("", flags).flags
    for rule_match, action, new_state in rules:
        pattern = rule_match.__self__  # Pygments keeps the compiled pattern's bound match
        joinable = pattern.flags == base_flags or not pattern.pattern  # default(): ''
        if not joinable or _BACKREFERENCE.search(pattern.pattern):
            raise ValueError(f"rule {pattern.pattern!r} cannot share one alternation")
        outer = len(by_group)
        alternatives.append(f"({pattern.pattern})")
        rule = _rule(outer, pattern.groups, rule_match, action, new_state)
        by_group += [rule] + [None] * pattern.groups
    return State(re.compile("|".join(alternatives), flags), by_group)


def _rule(outer: int, group_count: int, rule_match, action, new_state) -> Rule:
    if action is None or type(action) is _TokenType:
        return Rule(action, (), None, rule_match, new_state)
    actions = getattr(action, "actions", None)
    if (
        actions is not None
        and len(actions) <= group_count
        and all(a is None or type(a) is _TokenType for a in actions)
    ):
        groups = tuple(
            (outer + number, token) for number, token in enumerate(actions, 1) if token is not None
        )
        return Rule(None, groups, None, rule_match, new_state)
    return Rule(None, (), action, rule_match, new_state)


class AlternationLexer(RegexLexer):
    """RegexLexer's tokens from one alternation per state; subclasses give `tokens`."""

    def get_tokens_unprocessed(self, text, stack=("root",)):
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
                    yield pos, token, found.group()
                elif groups:
                    for group, token in groups:
                        data = found.group(group)
                        if data:
                            yield found.start(group), token, data
                elif callback is not None:
                    yield from callback(self, rule_match(text, pos))
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
                yield pos, Whitespace, "\n"
            else:
                yield pos, Error, text[pos]
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
