"""The one reader of the files K2 is given: regular files only, bounded, UTF-8, every failure naming the file."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from k2infra.contracts.input_files import MB, InputFileError, MissingFile, excerpt, read_text
from tests.conftest import ROOT


def refusal(file, limit=MB) -> InputFileError:
    with pytest.raises(InputFileError) as raised:
        read_text(file, limit)
    assert str(raised.value).startswith(f"{file}"), raised.value
    return raised.value


def test_a_regular_file_is_read(tmp_path):
    (tmp_path / "a.yaml").write_text("a: é\n", encoding="utf-8")
    assert read_text(tmp_path / "a.yaml", MB) == "a: é\n"


def test_a_fifo_is_refused_without_opening_it_for_long(tmp_path):
    fifo = tmp_path / "topics.yaml"
    os.mkfifo(fifo)
    # Run in a thread: if the reader blocked on the FIFO (no writer ever comes), the join would time out.
    result: list[BaseException | str] = []
    reader = threading.Thread(target=lambda: result.append(_refused(fifo)), daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # unblock the reader before failing
        with open(fifo, "w"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert "not a regular file" in str(result[0])


def _refused(file) -> BaseException | str:
    try:
        return read_text(file, MB)
    except InputFileError as err:
        return err


def test_a_device_is_refused_before_anything_is_read():
    assert "not a regular file (a device, a pipe or a socket)" in refusal("/dev/zero").message


def test_a_symlink_to_a_device_is_refused(tmp_path):
    (tmp_path / "trade.avsc").symlink_to("/dev/zero")
    assert "not a regular file" in refusal(tmp_path / "trade.avsc").message


def test_a_directory_is_refused(tmp_path):
    assert refusal(tmp_path).message == "is a directory, not a file"


def test_a_missing_file_is_its_own_kind(tmp_path):
    with pytest.raises(MissingFile, match="file not found"):
        read_text(tmp_path / "nope.yaml", MB)


def test_an_unreadable_file_says_why(tmp_path):
    # A real refusal by the kernel. Root reads any file through its DAC capabilities, so as root (CI here) the
    # reader runs without them (util-linux's setpriv).
    (tmp_path / "a.yaml").write_text("a: 1\n")
    (tmp_path / "a.yaml").chmod(0)
    code = ("import sys; from k2infra.contracts.input_files import MB, InputFileError, read_text\n"
            "try:\n    read_text(sys.argv[1], MB)\nexcept InputFileError as err:\n    print(err.message)")
    drop = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
            "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    done = subprocess.run([*drop, sys.executable, "-c", code, str(tmp_path / "a.yaml")], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.stdout.strip() == "cannot read the file: Permission denied", done.stderr


def test_a_permission_error_says_why_even_as_root(tmp_path, monkeypatch):
    (tmp_path / "a.yaml").write_text("a: 1\n")

    def denied(*_args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("k2infra.contracts.input_files.os.open", denied)
    assert refusal(tmp_path / "a.yaml").message == "cannot read the file: Permission denied"


def test_a_nul_byte_in_the_name_is_refused(tmp_path):
    assert "cannot read the file" in refusal(f"{tmp_path}/a\0b").message


def test_a_file_above_the_limit_is_refused_without_reading_it(tmp_path):
    (tmp_path / "big.yaml").write_bytes(b"#" * (2 * MB + 1))
    assert refusal(tmp_path / "big.yaml", 2 * MB).message == "the file is 2.0 MB; K2 reads at most 2 MB here"


def test_a_byte_that_is_not_utf8_is_located(tmp_path):
    (tmp_path / "a.yaml").write_bytes(b"a: 1\nname: caf\xe9\n")
    err = refusal(tmp_path / "a.yaml")
    assert (err.line, err.message) == (2, "byte 0xe9 at column 10 is not UTF-8: save the file as UTF-8")


def test_utf16_is_not_utf8(tmp_path):
    (tmp_path / "a.yaml").write_bytes("a: 1\n".encode("utf-16"))
    assert refusal(tmp_path / "a.yaml").message.startswith("byte 0xff at column 1 is not UTF-8")


def test_an_excerpt_is_short_and_on_one_line():
    assert excerpt("root:x:0:0\n" * 100) == ("root:x:0:0 " * 8)[:77] + "..."
    assert len(excerpt("x" * 1000)) == 80
    assert excerpt("short") == "short"
