"""Files only the owner may read (a secret key, demo passwords), created so from the start."""

import os
from pathlib import Path


def write_private_file(path: Path, text: str) -> None:
    """Write `text` to `path`, readable and writable by the owner only: the file is created
    with mode 0600 (never readable by others, not even for a moment); an existing file is
    set to 0600 before it is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, text.encode())
    finally:
        os.close(descriptor)
