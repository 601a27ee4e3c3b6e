"""Local / demo settings: the README's run command uses these."""

from django.core.management.utils import get_random_secret_key

from secureflow.core.private_files import write_private_file

from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)


def _local_secret_key() -> str:
    """A per-checkout secret kept under var/, never in the source."""
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        write_private_file(key_file, get_random_secret_key())
    return key_file.read_text().strip()


SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or _local_secret_key()
