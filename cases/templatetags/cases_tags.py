from django import template

register = template.Library()


@register.filter
def staff_name(user, empty: str = "—") -> str:
    """A staff member's full name, else username; ``empty`` for nobody."""
    if user is None:
        return empty
    return user.get_full_name() or user.username
