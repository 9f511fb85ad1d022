"""Clerk pages of the registry: home, person search, person page."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from registry import selectors, services
from registry.exceptions import PermissionDeniedError
from registry.forms import PersonSearchForm
from registry.identifiers import id_number_mask, id_number_normalize, identifier_compact
from registry.models import Person, SensitiveAccess


def _looks_like_id_number(query: str) -> bool:
    compact = identifier_compact(query)
    return len(compact) >= 15 and compact[:15].isdigit()


@login_required
@permission_required("registry.view_person", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def person_search(request):
    """The search form is posted, so that an ID number never lands in a URL (access logs, browser history).

    Name and pinyin searches are redirected to a GET address, which pages and can be bookmarked.
    """
    query, page_number = PersonSearchForm(request.POST if request.method == "POST" else request.GET).values()
    if request.method == "POST" and query and not _looks_like_id_number(query):
        return redirect(f"{reverse('person_search')}?{urlencode({'q': query})}")
    id_error = ""
    if query and _looks_like_id_number(query):
        try:
            id_number_normalize(query)
        except ValidationError as exc:
            id_error = " ".join(exc.messages)
    persons = selectors.person_list(user=request.user, query=query) if query and not id_error else Person.objects.none()
    if not persons.ordered:  # an ID-number match comes unordered; pages need a stable order
        persons = persons.order_by("id")
    page = Paginator(persons, 20).get_page(page_number)
    rows = [(p, id_number_mask(p.id_number)) for p in page.object_list]
    return render(
        request,
        "registry/person_search.html",
        {"query": query, "page": page, "rows": rows, "id_error": id_error},
    )


def _person_or_404(request, uid) -> Person:
    try:
        return selectors.person_get(user=request.user, uid=uid)
    except (Person.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


@login_required
@permission_required("registry.view_person", raise_exception=True)
def person_detail(request, uid):
    person = _person_or_404(request, uid)
    if person.uid != uid:  # a tombstone's address: show its survivor, under the survivor's own address
        return redirect("person_detail", uid=person.uid)
    enrollments = selectors.enrollments_for_person(user=request.user, person=person)
    tombstones = [(t, id_number_mask(t.id_number)) for t in selectors.person_tombstones(person)]
    return render(
        request,
        "registry/person_detail.html",
        {
            "person": person,
            "masked_id": id_number_mask(person.id_number),
            "full_id": request.session.pop(f"reveal:{person.uid}", None),
            "can_reveal": request.user.has_perm("registry.view_full_id_number"),
            "enrollments": enrollments,
            "tombstones": tombstones,
            "history": selectors.object_history(person, limit=50),
        },
    )


@login_required
@permission_required("registry.view_person", raise_exception=True)
@require_POST
def person_reveal_id(request, uid):
    person = _person_or_404(request, uid)
    try:
        number = services.id_number_reveal(
            person=person,
            acting_user=request.user,
            channel=SensitiveAccess.Channel.PAGE,
            request_id=getattr(request, "request_id", ""),
        )
    except PermissionDeniedError as exc:  # shown on the person's page, where the button is
        messages.error(request, str(exc))
        return redirect("person_detail", uid=person.uid)
    # Shown once on the next page load, not kept in the URL.
    request.session[f"reveal:{person.uid}"] = number
    messages.info(request, _("完整号码的查看已记录。"))
    return redirect("person_detail", uid=person.uid)
