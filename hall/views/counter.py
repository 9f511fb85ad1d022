"""The counter's page for hall accounts (staff session, outside /hall/): accounts of the clerk's jurisdiction that
wait for confirmation; the clerk checks the holder's identity document and opens the account, or issues an
activation code (shown once) for the holder to type in the hall."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from registry.exceptions import ApplicationError
from registry.identifiers import id_number_mask

from .. import selectors
from ..forms import CounterActionForm
from ..models import HallAccount
from ..services import accounts


@login_required
@permission_required("hall.view_hallaccount", raise_exception=True)
@require_GET
def pending_list(request):
    rows = [(a, id_number_mask(a.id_number)) for a in selectors.pending_accounts(user=request.user)[:200]]
    return render(request, "hall/counter.html", {"rows": rows, "form": CounterActionForm()})


@login_required
@permission_required("hall.confirm_hallaccount", raise_exception=True)
@require_POST
def pending_action(request, uid):
    try:
        account = selectors.pending_account_get(user=request.user, uid=uid)
    except HallAccount.DoesNotExist:
        raise Http404 from None
    form = CounterActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择操作。"))
        return redirect("hall_counter")
    try:
        if form.cleaned_data["action"] == "confirm":
            accounts.account_confirm(account=account, acting_user=request.user)
            messages.success(request, _("已确认开通 %(name)s 的网厅账户。") % {"name": account.name})
        else:
            code = accounts.activation_code_issue(account=account, acting_user=request.user)
            messages.success(
                request,
                _("%(name)s 的激活码：%(code)s（仅显示一次，请交给本人；%(days)s 天内有效）。")
                % {"name": account.name, "code": code, "days": settings.HALL_ACTIVATION_CODE_DAYS},
            )
    except HallAccount.DoesNotExist:
        raise Http404 from None
    except ApplicationError as exc:
        messages.error(request, str(exc))
    return redirect("hall_counter")
