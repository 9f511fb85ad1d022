from registry.roles import ROLE_LABELS


def staff_context(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    roles = [str(ROLE_LABELS.get(g.name, g.name)) for g in user.groups.all()]
    return {"staff_office": user.office, "staff_roles": roles}
