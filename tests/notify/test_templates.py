"""The notification templates: three files per message, HTML escaped, nothing left undefined."""

from __future__ import annotations

import jinja2
import pytest

from apex_mediation.notify.templates import TEMPLATES_DIR, render

SUFFIXES = (".subject.txt", ".txt", ".html")


def template_names() -> set[str]:
    names = set()
    for path in TEMPLATES_DIR.rglob("*"):
        relative = path.relative_to(TEMPLATES_DIR).as_posix()
        if path.is_file() and not relative.startswith("_"):
            names.add(next(relative.removesuffix(s) for s in SUFFIXES if relative.endswith(s)))
    return names


def test_every_template_has_a_subject_a_text_and_an_html_file() -> None:
    names = template_names()
    assert {"product/announcement", "alerts/operator_alert"} <= names
    for name in names:
        missing = [s for s in SUFFIXES if not (TEMPLATES_DIR / f"{name}{s}").is_file()]
        assert not missing, f"{name} lacks {missing}"


def test_html_is_escaped_and_text_is_not() -> None:
    rendered = render(
        "product/announcement",
        {"headline": "Q&A <live>", "summary": "<script>x</script>", "url": "https://a/?x=1&y=2"},
    )
    assert rendered.subject == "Q&A <live>"
    assert "<script>x</script>" in rendered.text
    assert "&lt;script&gt;x&lt;/script&gt;" in rendered.html
    assert "<script>" not in rendered.html
    assert "<title>Q&amp;A &lt;live&gt;</title>" in rendered.html  # the shared layout
    assert 'href="https://a/?x=1&amp;y=2"' in rendered.html
    assert "unsubscribe" not in rendered.text.lower() + rendered.html.lower()


def test_an_unsubscribe_link_ends_both_bodies() -> None:
    link = "https://apex.example/notifications/unsubscribe?t=abc.def"
    context = {"title": "T", "detail": "D", "url": "https://apex.example/x"}
    rendered = render("alerts/operator_alert", context, unsubscribe_url=link)
    assert rendered.text.rstrip().endswith(link)
    assert f'<a href="{link}"' in rendered.html
    assert "https://apex.example/x" in rendered.text  # optional variables may be given


def test_subjects_are_one_line() -> None:
    rendered = render("alerts/operator_alert", {"title": "a\nBcc: x@example.com", "detail": "d"})
    assert rendered.subject == "[Apex alert] a Bcc: x@example.com"


@pytest.mark.parametrize(
    ("name", "context", "error"),
    [
        ("product/announcement", {"headline": "h", "url": "u"}, jinja2.UndefinedError),
        ("product/nope", {}, jinja2.TemplateNotFound),
        ("../console/templates/base", {}, jinja2.TemplateNotFound),
        ("product/announcement", {"unsubscribe_url": "x"}, ValueError),
    ],
)
def test_mistakes_fail_loudly(name: str, context: dict[str, str], error: type[Exception]) -> None:
    with pytest.raises(error):
        render(name, context)
