"""Secret files (the local secret key, demo passwords) are never readable by others."""

import os
import stat

from secureflow.core.private_files import write_private_file


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_file_is_created_owner_only_even_under_a_permissive_umask(tmp_path):
    previous = os.umask(0)
    try:
        target = tmp_path / "var" / "secret_key"
        write_private_file(target, "s3cr3t")
    finally:
        os.umask(previous)
    assert mode(target) == 0o600
    assert target.read_text() == "s3cr3t"


def test_an_existing_readable_file_is_closed_before_it_is_rewritten(tmp_path):
    target = tmp_path / "demo_logins.txt"
    target.write_text("old and longer content")
    target.chmod(0o644)
    write_private_file(target, "new")
    assert mode(target) == 0o600
    assert target.read_text() == "new"
