"""Loading a rule set fast without changing what is loaded: the packs' parsed data kept in
the user's cache, the patterns compiled in one call, the matcher built on a thread of its
own (and in a forked child, by the child)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from cleaner.clean import rules as R
from cleaner.native import core as _native


def _pack(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.toml").write_text(f'[pack]\nlanguage = "en"\ncategory = "{name}"\n\n{body}', encoding="utf-8")
    return folder


def _rule(rid: str, pattern: str, kind: str = "line") -> str:
    return (f'[[rule]]\nid = "{rid}"\nkind = "{kind}"\npattern = \'{pattern}\'\n'
            'match = ["x"]\nno_match = ["y"]\n\n')


def _view(rules: list[R.Rule]) -> list[tuple[object, ...]]:
    return [(r.id, r.kind, r.pattern, r.category, r.language, r.why, r.match, r.no_match, r.case_sensitive,
             r.long, r.default, r.max_items, r.caption, r.file, r.compiled is not None) for r in rules]


def test_packs_come_from_the_cache_the_second_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = R.load_dirs([R.builtin_rules_dir()])
    kept = list((tmp_path / "cache" / "cleaner").glob("packs-*.json"))
    assert len(kept) == 1 and json.loads(kept[0].read_text(encoding="utf-8"))["value"]

    def no_toml(_: str) -> None:
        raise AssertionError("the packs were parsed again")

    monkeypatch.setattr(R.tomllib, "loads", no_toml)
    again = R.load_dirs([R.builtin_rules_dir()])
    assert _view(again) == _view(first)
    assert R.RuleSet(again).version == R.RuleSet(first).version


def test_an_edited_pack_is_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = _pack(tmp_path / "r", "share", _rule("en.share.a", "x"))
    assert [r.pattern for r in R.load_dirs([folder])] == ["x"]
    _pack(folder, "share", _rule("en.share.a", "x+"))
    assert [r.pattern for r in R.load_dirs([folder])] == ["x+"]
    _pack(folder, "tags", _rule("en.tags.b", "x{2}"))  # a pack added
    assert [r.pattern for r in R.load_dirs([folder])] == ["x+", "x{2}"]
    (folder / "tags.toml").unlink()
    assert [r.pattern for r in R.load_dirs([folder])] == ["x+"]


@pytest.mark.parametrize("damage", ["garbage", "wrong shape", "not a directory"])
def test_a_cache_that_cannot_be_used_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    folder = _pack(tmp_path / "r", "share", _rule("en.share.a", "x"))
    if damage == "not a directory":
        cache.write_text("a file where the cache directory would go")
    else:
        R.load_dirs([folder])
        (kept,) = (cache / "cleaner").glob("packs-*.json")
        kept.write_text("{not json" if damage == "garbage" else json.dumps({"key": "k", "value": 3}))
    assert [r.id for r in R.load_dirs([folder])] == ["en.share.a"]
    assert [r.id for r in R.load_dirs([folder])] == ["en.share.a"]


def test_a_pack_that_is_not_plain_json_is_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A TOML date has no JSON form: such a folder is parsed every time, never cached."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = _pack(tmp_path / "r", "share", 'updated = 2024-01-01\n\n' + _rule("en.share.a", "x"))
    assert [r.id for r in R.load_dirs([folder])] == ["en.share.a"]
    assert not list((tmp_path / "cache").rglob("packs-*.json"))


@pytest.mark.parametrize(("packs", "message"), [
    # a bad pattern above a malformed rule is named first, as when each rule was compiled as read
    ({"share": _rule("en.share.a", "(unclosed") + '[[rule]]\nid = "en.share.b"\nkind = "nope"\npattern = "x"\n'},
     r"share.toml:\d+: rule en.share.a: bad pattern"),
    ({"share": '[[rule]]\nid = "en.share.a"\nkind = "nope"\npattern = "x"\n\n' + _rule("en.share.b", "(unclosed")},
     "rule en.share.a: kind must be one of"),
    # ... and one in an earlier pack before a later pack's broken TOML or a duplicate id
    ({"share": _rule("en.share.a", "(unclosed"), "tags": "[[rule]\n"}, "rule en.share.a: bad pattern"),
    ({"share": _rule("en.share.a", "x"), "tags": "[[rule]\n"}, "tags.toml: invalid TOML"),
    ({"share": _rule("en.share.a", "x"), "tags": _rule("en.share.a", "y") + _rule("en.tags.c", "(unclosed")},
     "rule en.tags.c: bad pattern"),
    ({"share": _rule("en.share.a", "x"), "tags": _rule("en.share.a", "y")}, "tags.toml: duplicate rule id en.share.a"),
])
def test_the_first_problem_in_order_is_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              packs: dict[str, str], message: str) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "r"
    for name, body in packs.items():
        _pack(folder, name, body)
    with pytest.raises(R.RuleError, match=message):
        R.load_dirs([folder])


def test_compile_patterns_equals_pattern_by_pattern() -> None:
    rules = R.load_dirs([R.builtin_rules_dir()])
    specs = [(r.pattern, r.case_sensitive, r.kind == "inline") for r in rules]
    specs.insert(7, ("(unclosed", False, False))
    got = _native.compile_patterns(specs)
    assert len(got) == len(specs)
    with pytest.raises(ValueError) as info:
        _native.Pattern(*specs[7])
    assert got[7] == str(info.value)
    for (pattern, cs, search), p in zip(specs, got, strict=True):
        if isinstance(p, str):
            continue
        one = _native.Pattern(pattern, cs, search)
        assert p.backtracks == one.backtracks
    for rule in rules:  # each rule's own examples, through the batch-compiled pattern
        assert not rule.check_examples(), rule.id


def test_the_matcher_is_the_one_a_direct_build_gives() -> None:
    rs = R.RuleSet(R.load_dirs([R.builtin_rules_dir()]))
    direct = _native.Matcher([r.compiled for r in rs.rules], [r.long for r in rs.rules])
    lines = [x for r in rs.rules for x in (*r.match, *r.no_match)]
    assert [rs.matcher.line(x) for x in lines] == [direct.line(x) for x in lines]
    assert rs.matcher is rs.matcher


def test_a_set_the_core_refuses_is_a_value_error() -> None:
    (pattern,) = _native.compile_patterns([("x", False, False)])
    with pytest.raises(ValueError, match="one 'long' flag per pattern"):
        _native.Matcher([pattern], [False, True])
    build = _native.MatcherBuild([pattern], [False, True])
    for _ in range(2):  # the same error at every call
        with pytest.raises(ValueError, match="one 'long' flag per pattern"):
            build.matcher()


def test_a_forked_child_builds_its_own_matcher() -> None:
    """A child forked while the build thread runs has no such thread: it must not wait for
    it, but build the matcher itself (the pipeline asks for it before it forks, but a
    library user need not)."""
    rules = R.load_dirs([R.builtin_rules_dir()])
    rs = R.RuleSet(rules)  # the thread has just started
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            ok = rs.matcher.line("Leave a Reply")[0] >= 0
            os._exit(0 if ok else 1)
        finally:
            os._exit(2)
    deadline = time.monotonic() + 120
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child waited for a thread it does not have")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 0
    assert rs.matcher.line("Leave a Reply")[0] >= 0
