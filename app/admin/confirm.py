"""The confirm step before an admin action that cannot be undone or that reaches a patient.

The action's own button posts its form without ``confirm``; the handler then answers with
this page (what will happen, in words), whose one button posts the same form again with
``confirm=yes``. Nothing changes before that second post. No script is needed, and the page
is an ordinary page for keyboards and screen readers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiohttp import web

from app.admin.auth import render


def confirmed(form: Mapping[str, object]) -> bool:
    return form.get("confirm") == "yes"


def confirm_page(
    request: web.Request,
    *,
    title: str,
    warning: str,
    action: str,
    confirm_label: str,
    back: str,
    details: Iterable[tuple[str, str]] = (),
    hidden: Mapping[str, str] | None = None,
    danger: bool = True,
) -> web.Response:
    """The page; every string is already translated."""
    return render(
        request, "admin/confirm.html", title=title, warning=warning, action=action,
        confirm_label=confirm_label, back=back, details=list(details), hidden=dict(hidden or {}), danger=danger,
    )
