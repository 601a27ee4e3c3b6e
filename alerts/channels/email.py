"""E-mail alerts through Django's e-mail backend (SMTP from EMAIL_HOST, EMAIL_PORT, …)."""

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.message import make_msgid

from alerts.channels.base import ChannelBackend, DeliveryError, Outgoing


def _permanent_smtp(exc: smtplib.SMTPException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and code >= 500


class EmailChannel(ChannelBackend):
    name = "email"

    def send(self, outgoing: Outgoing) -> str:
        message_id = make_msgid(idstring=f"alert{outgoing.delivery_id}", domain="secureflow")
        email = EmailMessage(
            subject=outgoing.message.subject,
            body=outgoing.message.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[outgoing.destination],
            headers={
                "Message-ID": message_id,
                "X-SecureFlow-Transaction": outgoing.message.transaction_id,
                "X-SecureFlow-Delivery": str(outgoing.delivery_id),
            },
        )
        connection = get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT)
        try:
            sent = connection.send_messages([email])
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"SMTP error: {exc}", permanent=_permanent_smtp(exc)) from exc
        except OSError as exc:
            raise DeliveryError(
                f"Could not reach the mail server {settings.EMAIL_HOST}:{settings.EMAIL_PORT}: "
                f"{exc}"
            ) from exc
        if not sent:
            raise DeliveryError("The mail server accepted no message.")
        return message_id
