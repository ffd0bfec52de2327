"""The interface in Simplified Chinese by default, English on request, from a compiled catalogue."""

import ast
import gettext
import re
from pathlib import Path

import pytest

from tests.conftest import make_question

LOCALE = Path(__file__).resolve().parent.parent / "config" / "locale" / "zh_Hans" / "LC_MESSAGES"


def _po_entries() -> list[tuple[str, str, bool]]:
    """(msgid, first msgstr, is plural) of every entry in django.po, multi-line strings joined;
    an entry with a context has ``context\x04msgid`` as its id, as gettext stores it."""
    entries = []
    for block in (LOCALE / "django.po").read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            match = re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[0\])?|msgstr\[\d\]) (".*")$', line)
            if match:
                key = match.group(1)
                fields[key] = ast.literal_eval(match.group(2))
            elif line.startswith('"') and key:
                fields[key] += ast.literal_eval(line)
        if fields.get("msgid"):
            msgstr = fields.get("msgstr", fields.get("msgstr[0]", ""))
            msgid = f"{fields['msgctxt']}\x04{fields['msgid']}" if "msgctxt" in fields else fields["msgid"]
            entries.append((msgid, msgstr, "msgid_plural" in fields))
    return entries


def test_every_string_is_translated_and_compiled():
    entries = _po_entries()
    assert len(entries) > 100
    assert [msgid for msgid, msgstr, _ in entries if not msgstr] == []
    with open(LOCALE / "django.mo", "rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = [
        msgid
        for msgid, msgstr, plural in entries
        if (compiled.ngettext(msgid, msgid, 1) if plural else compiled.gettext(msgid)) != msgstr
    ]
    assert stale == [], "django.mo is older than django.po: run compilemessages"


@pytest.mark.django_db
def test_pages_are_chinese_by_default(client):
    response = client.get("/")
    body = response.content.decode()
    assert '<html lang="zh-hans">' in body
    assert "跳到正文" in body and "最新问题" in body


@pytest.mark.django_db
def test_accept_language_english_gives_english(client):
    question = make_question(title="反色", answer="回答")
    body = client.get(question.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en">' in body
    assert "Skip to content" in body and "Related questions" in body


@pytest.mark.django_db
def test_language_switch_sets_the_language_and_returns_to_the_page(client):
    response = client.get("/i18n/en/", {"next": "/questions/"})
    assert response.status_code == 302
    assert response["Location"] == "/questions/"
    assert "All questions" in client.get("/questions/").content.decode()


@pytest.mark.django_db
def test_language_switch_never_redirects_off_site(client):
    response = client.get("/i18n/en/", {"next": "https://evil.example/"})
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_language_switch_refuses_an_unknown_language(client):
    assert client.get("/i18n/fr/", {"next": "/"}).status_code == 404


@pytest.mark.django_db
def test_footer_links_switch_back_to_the_same_page(client):
    question = make_question(title="反色", answer="回答")
    body = client.get(question.get_absolute_url()).content.decode()
    links = re.findall(r'href="(/i18n/[^"]+)"', body)
    assert len(links) == 1 and links[0].startswith("/i18n/en/?next=/questions/")
    response = client.get(links[0].replace("&amp;", "&"))
    assert response.status_code == 302
    assert response["Location"] == question.get_absolute_url()
