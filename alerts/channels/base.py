"""What every alert channel backend implements."""

from abc import ABC, abstractmethod
from dataclasses import dataclass

from alerts.messages import AlertMessage


class DeliveryError(Exception):
    """A send that did not go through. `permanent`: retrying cannot help (a refused
    address, a 4xx answer), so the delivery fails at once instead of being retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Outgoing:
    """One alert to send: where, what, and the delivery it belongs to."""

    delivery_id: int
    destination: str
    message: AlertMessage
    signing_secret: str = ""  # webhooks


class ChannelBackend(ABC):
    """A way to deliver alerts. `send` returns the provider's reference for the message
    (a message id, an SMS sid) or raises DeliveryError."""

    name: str = ""

    @abstractmethod
    def send(self, outgoing: Outgoing) -> str: ...
