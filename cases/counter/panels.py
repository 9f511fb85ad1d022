"""Panels an app above cases adds to the clerk's home page (evaluation's 时限监察 panel), so that cases does not
depend on it: the app registers a function from its ``AppConfig.ready()``, the home page shows what each returns
(already rendered HTML, empty when the user has nothing to see)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest

HomePanel = Callable[[HttpRequest], str]

_PANELS: list[HomePanel] = []


def home_panel_register(panel: HomePanel) -> None:
    """Add ``panel`` to the home page, once (``ready()`` may run more than once)."""
    if panel not in _PANELS:
        _PANELS.append(panel)


def home_panels_render(request: HttpRequest) -> list[str]:
    return [html for html in (panel(request) for panel in _PANELS) if html]
