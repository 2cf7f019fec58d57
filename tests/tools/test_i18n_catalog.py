"""The shipped catalog stays whole: the .pot holds every string the code translates, and
fr.po translates every one of them with its placeholders intact.

Odoo merges each .po with the module's .pot when it reads it and drops the entries the .pot
lacks, so a stale .pot silently turns translated strings back into English (it happened: a
.pot exported on a branch without the screens' strings made the French register half English).
"""

import ast
import re
from pathlib import Path

import polib
import pytest

ADDON = Path(__file__).resolve().parents[2] / "pos_offline_sync"
POT = ADDON / "i18n" / "pos_offline_sync.pot"
LANGUAGES = sorted(p for p in (ADDON / "i18n").glob("*.po"))

# `_t("a" + "b")` as Odoo's extractor reads it: double-quoted literals joined by `+`.
JS_LITERAL = r'"(?:[^"\\\n]|\\.)*"'
JS_CALL = re.compile(r"\b_t\(\s*(" + JS_LITERAL + r"(?:\s*\+\s*" + JS_LITERAL + r")*)\s*[,)]")
PLACEHOLDER = re.compile(r"%\(\w+\)[-0-9.]*[sdf]|%[sd]|\{\w+\}")


def _js_unescape(literal):
    return ast.literal_eval(literal)


def js_sources():
    """msgid -> first file, for every `_t("...")` literal of the addon's browser code."""
    found = {}
    for path in sorted((ADDON / "static" / "src").rglob("*.js")):
        # Comment lines mention `_t("...")` without calling it.
        text = "\n".join(
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if not line.lstrip().startswith(("//", "*", "/*"))
        )
        for match in JS_CALL.finditer(text):
            parts = re.findall(JS_LITERAL, match.group(1))
            found.setdefault("".join(_js_unescape(p) for p in parts), path.name)
    return found


def python_sources():
    """msgid -> first file, for every `_("...")` / `env._("...")` literal of the addon."""
    found = {}
    for path in sorted(ADDON.rglob("*.py")):
        if "tests" in path.relative_to(ADDON).parts or "core" in path.relative_to(ADDON).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            first = node.args[0]
            if name == "_" and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.setdefault(first.value, path.name)
    return found


@pytest.fixture(scope="module")
def pot_ids():
    return {entry.msgid for entry in polib.pofile(str(POT))}


def test_there_is_a_translation_to_check():
    assert [p.name for p in LANGUAGES] == ["fr.po"]


@pytest.mark.parametrize("sources", [js_sources, python_sources], ids=["javascript", "python"])
def test_the_pot_holds_every_string_the_code_translates(sources, pot_ids):
    found = sources()
    assert len(found) > 20, "the extractor of this test found almost nothing: it is broken"
    missing = sorted(
        f"{where}: {msgid!r}" for msgid, where in found.items() if msgid not in pot_ids
    )
    assert not missing, (
        "not in the .pot (run `odoo-bin i18n export -d DB -o "
        "pos_offline_sync/i18n/pos_offline_sync.pot pos_offline_sync`):\n" + "\n".join(missing)
    )


@pytest.mark.parametrize("po_path", LANGUAGES, ids=lambda p: p.name)
def test_every_string_is_translated_and_none_is_dropped(po_path, pot_ids):
    po = polib.pofile(str(po_path))
    translated = {e.msgid for e in po if e.msgstr and not e.obsolete and "fuzzy" not in e.flags}
    untranslated = sorted(pot_ids - translated - {""})
    assert not untranslated, f"{po_path.name} lacks {len(untranslated)}: {untranslated[:10]}"
    dropped = sorted(translated - pot_ids)
    assert not dropped, f"{po_path.name} has entries the .pot lacks (Odoo drops them): {dropped}"


@pytest.mark.parametrize("po_path", LANGUAGES, ids=lambda p: p.name)
def test_translations_keep_their_placeholders(po_path):
    wrong = [
        entry.msgid
        for entry in polib.pofile(str(po_path))
        if entry.msgstr
        and sorted(PLACEHOLDER.findall(entry.msgid)) != sorted(PLACEHOLDER.findall(entry.msgstr))
    ]
    assert not wrong, f"placeholders differ in {po_path.name}: {wrong}"
