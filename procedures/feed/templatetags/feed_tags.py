from __future__ import annotations

from django import template

from ..models import InboundMessage

register = template.Library()


@register.simple_tag
def messages_to_fix(user: object) -> int:
    """How many messages from record systems this nurse's clinics are waiting on."""
    return InboundMessage.objects.visible_to(user).to_fix().count()
