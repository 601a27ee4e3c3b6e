"""The embedded default: alerts are written to the log (the worker's output)."""

import logging

from alerts.channels.base import ChannelBackend, Outgoing

logger = logging.getLogger("alerts.console")


class ConsoleChannel(ChannelBackend):
    name = "console"

    def send(self, outgoing: Outgoing) -> str:
        logger.info(
            "Alert %s to %s: %s\n%s",
            outgoing.delivery_id,
            outgoing.destination,
            outgoing.message.subject,
            outgoing.message.text,
        )
        return f"console-{outgoing.delivery_id}"
