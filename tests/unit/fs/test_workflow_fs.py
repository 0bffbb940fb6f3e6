"""The shared filesystem's contract, the same for every backend: the local directory, fsspec's
memory:// and fsspec's own local filesystem (file://)."""
from __future__ import annotations

import dataclasses
import os
import threading
import uuid

import pytest

from mr.config import Settings
from mr.fs import LocalFS, PathEscape, open_url, root_url, workflow_fs
from mr.fs.remote import FsspecFS


@pytest.fixture(params=["local", "memory", "fsspec-file"])
def wfs(request, tmp_path):
    if request.param == "memory":
        area = FsspecFS(f"memory://mr-test-{uuid.uuid4().hex}/wf")
        yield area
        bucket = area.root.rsplit("/", 1)[0]
        if area.fs.exists(bucket):
            area.fs.rm(bucket, recursive=True)
    elif request.param == "local":
        yield LocalFS(tmp_path / "root")
    else:
        yield FsspecFS(f"file://{tmp_path}/root")


def test_bytes_round_trip_and_parents_are_made(wfs):
    wfs.write_bytes("a/b/c.bin", b"\x00\x01payload")
    assert wfs.read_bytes("a/b/c.bin") == b"\x00\x01payload"
    assert wfs.exists("a/b/c.bin") and wfs.exists("a/b") and wfs.isdir("a")
    assert not wfs.isdir("a/b/c.bin")


def test_write_replaces_whole_file(wfs):
    wfs.write_bytes("f", b"long old content")
    wfs.write_bytes("f", b"new")
    assert wfs.read_bytes("f") == b"new"


def test_text_helpers_and_open_modes(wfs):
    with wfs.open("notes/t.txt", "w") as file:
        file.write("héllo\n")
    with wfs.open("notes/t.txt", "r") as file:
        assert file.read() == "héllo\n"
    with wfs.open("notes/b.bin", "wb") as file:
        file.write(b"xy")
    with wfs.open("notes/b.bin") as file:
        assert file.read() == b"xy"
    wfs.write_text("notes/u.txt", "ü")
    assert wfs.read_text("notes/u.txt") == "ü"


def test_listdir(wfs):
    assert wfs.listdir() == []          # a fresh area lists as empty
    wfs.write_bytes("d/x", b"1")
    wfs.write_bytes("d/y", b"2")
    wfs.makedirs("d/sub/deeper")
    wfs.write_bytes("top", b"3")
    assert wfs.listdir() == ["d", "top"]
    assert wfs.listdir("d") == ["sub", "x", "y"]
    assert wfs.listdir("./d/") == ["sub", "x", "y"]
    with pytest.raises(FileNotFoundError):
        wfs.listdir("nope")
    with pytest.raises(NotADirectoryError):
        wfs.listdir("top")


def test_missing_file(wfs):
    assert not wfs.exists("ghost")
    with pytest.raises(FileNotFoundError):
        wfs.read_bytes("ghost")


def test_delete_file_and_tree(wfs):
    wfs.write_bytes("t/a", b"1")
    wfs.write_bytes("t/s/b", b"2")
    wfs.write_bytes("keep", b"3")
    assert wfs.delete("t/a") is True
    assert not wfs.exists("t/a") and wfs.exists("t/s/b")
    assert wfs.delete("t") is True
    assert not wfs.exists("t") and not wfs.exists("t/s/b")
    assert wfs.delete("t") is False
    assert wfs.listdir() == ["keep"]


def test_root_itself_cannot_be_deleted_or_overwritten(wfs):
    wfs.write_bytes("x", b"1")
    for path in ("", ".", "./"):
        with pytest.raises(ValueError, match="root"):
            wfs.delete(path)
        with pytest.raises(ValueError, match="root"):
            wfs.write_bytes(path, b"")
    assert wfs.read_bytes("x") == b"1"


@pytest.mark.parametrize("path", ["../x", "a/../../x", "a/..", "..", "/etc/passwd", "/",
                                  "a\0b", "ok/../ok"])
def test_escaping_paths_are_rejected(wfs, path):
    for call in (wfs.read_bytes, wfs.exists, wfs.listdir, wfs.delete, wfs.makedirs,
                 wfs.open, wfs.local_path, lambda p: wfs.write_bytes(p, b"x")):
        with pytest.raises(PathEscape) as caught:
            call(path)
        assert repr(path) in str(caught.value)   # names the path ...
        assert "root" in str(caught.value)      # ... and the root it may not leave


def test_path_escape_is_a_value_error():
    assert issubclass(PathEscape, ValueError)


def test_dots_inside_names_are_fine(wfs):
    wfs.write_bytes("..hidden/a..b/.c", b"ok")
    assert wfs.read_bytes("..hidden/a..b/.c") == b"ok"


def test_local_path(wfs, tmp_path):
    wfs.write_bytes("f", b"1")
    if isinstance(wfs, LocalFS):
        assert wfs.local_path("f") == str((tmp_path / "root" / "f").resolve())
        with open(wfs.local_path("f"), "rb") as file:
            assert file.read() == b"1"
    else:
        assert wfs.local_path("f") is None


@pytest.fixture(params=["local", "fsspec-file"])
def disk(request, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_bytes(b"secret")
    area = LocalFS(root) if request.param == "local" else FsspecFS(f"file://{root}")
    return area, root, tmp_path / "outside"


def test_symlink_out_of_root_is_rejected(disk):
    area, root, outside = disk
    os.symlink(outside, root / "door")
    os.symlink(outside / "secret", root / "secret_link")
    for path in ("door/secret", "door", "secret_link", "door/new"):
        with pytest.raises(PathEscape, match="outside the workflow's root"):
            area.read_bytes(path)
        with pytest.raises(PathEscape):
            area.write_bytes(path, b"overwritten")
        with pytest.raises(PathEscape):
            area.open(path, "wb")
    assert (outside / "secret").read_bytes() == b"secret"
    assert sorted(os.listdir(outside)) == ["secret"]


def test_symlink_inside_root_is_followed(disk):
    area, root, _ = disk
    area.write_bytes("real/f", b"1")
    os.symlink(root / "real", root / "alias")
    assert area.read_bytes("alias/f") == b"1"


def test_deleting_a_symlink_removes_the_link_not_its_target(tmp_path):
    area = LocalFS(tmp_path / "root")
    area.makedirs("")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "keep").write_bytes(b"k")
    os.symlink(tmp_path / "outside", tmp_path / "root" / "door")
    assert area.delete("door") is True
    assert area.listdir() == []
    assert (tmp_path / "outside" / "keep").read_bytes() == b"k"


def test_local_write_is_atomic_for_concurrent_readers(tmp_path):
    """Readers racing a writer see the old or the new content, never a part of either."""
    area = LocalFS(tmp_path)
    old, new = b"a" * 1_000_000, b"b" * 2_000_000
    area.write_bytes("big", old)
    seen, stop = set(), threading.Event()

    def read():
        while not stop.is_set():
            seen.add(area.read_bytes("big"))
    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    for _ in range(10):
        area.write_bytes("big", new)
        area.write_bytes("big", old)
    stop.set()
    for reader in readers:
        reader.join()
    assert seen <= {old, new}
    assert [name for name in os.listdir(tmp_path)] == ["big"]   # no temporary files left


def test_written_files_follow_the_umask_not_private(tmp_path):
    area = LocalFS(tmp_path)
    area.write_bytes("f", b"1")
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(tmp_path / "f").st_mode & 0o777 == 0o666 & ~mask


def settings(**changes) -> Settings:
    return dataclasses.replace(Settings(), **changes)


def test_workflow_fs_default_root_is_under_data_dir(tmp_path):
    conf = settings(data_dir=str(tmp_path / "data"))
    assert root_url(conf) == f"file://{tmp_path}/data/shared"
    area = workflow_fs(conf, "wf_1")
    area.write_bytes("x", b"1")
    assert (tmp_path / "data" / "shared" / "wf_1" / "x").read_bytes() == b"1"


@pytest.mark.parametrize("url", ["{tmp}/shared", "file://{tmp}/shared", "file://{tmp}/shared/"])
def test_workflow_fs_local_urls(tmp_path, url):
    area = workflow_fs(settings(shared_fs_url=url.format(tmp=tmp_path)), "wf")
    assert isinstance(area, LocalFS)
    area.write_bytes("x", b"1")
    assert (tmp_path / "shared" / "wf" / "x").read_bytes() == b"1"


def test_workflow_fs_memory_url_round_trip():
    bucket = f"mr-test-{uuid.uuid4().hex}"
    conf = settings(shared_fs_url=f"memory://{bucket}/areas")
    one, two = workflow_fs(conf, "one"), workflow_fs(conf, "two")
    assert isinstance(one, FsspecFS) and one.url == f"memory://{bucket}/areas/one"
    one.write_bytes("data/x", b"from one")
    assert workflow_fs(conf, "one").read_bytes("data/x") == b"from one"   # another instance
    assert not two.exists("data/x")                                      # workflows isolated
    with pytest.raises(PathEscape):
        two.read_bytes("../one/data/x")
    one.fs.rm(f"/{bucket}", recursive=True)


@pytest.mark.parametrize("name", ["", "a/b", "..", "a b"])
def test_workflow_fs_rejects_bad_workflow_names(tmp_path, name):
    with pytest.raises(ValueError, match="invalid workflow name"):
        workflow_fs(settings(data_dir=str(tmp_path)), name)


def test_bad_urls_are_clear_errors():
    with pytest.raises(ValueError, match="absolute path"):
        open_url("file://relative/dir")
    with pytest.raises(ValueError, match="cannot open shared filesystem 'nosuchproto://x'"):
        open_url("nosuchproto://x")


def test_rename_a_file_making_the_parent(wfs):
    wfs.write_bytes("a/.f.tmp", b"1")
    wfs.rename("a/.f.tmp", "b/c/f")
    assert wfs.read_bytes("b/c/f") == b"1" and not wfs.exists("a/.f.tmp")
    wfs.write_bytes("g", b"2")
    wfs.rename("g", "b/c/f")   # replaces a file
    assert wfs.read_bytes("b/c/f") == b"2" and not wfs.exists("g")


def test_rename_a_directory_tree(wfs):
    wfs.write_bytes("d.tmp/x", b"1")
    wfs.write_bytes("d.tmp/s/y", b"2")
    wfs.rename("d.tmp", "out/d")
    assert wfs.read_bytes("out/d/x") == b"1" and wfs.read_bytes("out/d/s/y") == b"2"
    assert not wfs.exists("d.tmp")


def test_rename_onto_a_directory_is_refused(wfs):
    wfs.write_bytes("src/x", b"1")
    wfs.write_bytes("dst/y", b"2")
    with pytest.raises(FileExistsError):
        wfs.rename("src", "dst")
    assert wfs.read_bytes("src/x") == b"1" and wfs.listdir("dst") == ["y"]


def test_rename_missing_source(wfs):
    with pytest.raises(FileNotFoundError):
        wfs.rename("ghost", "there")


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/x", "", "."])
def test_rename_refuses_escapes_and_the_root(wfs, path):
    wfs.write_bytes("f", b"1")
    with pytest.raises(ValueError):
        wfs.rename(path, "g")
    with pytest.raises(ValueError):
        wfs.rename("f", path)
    assert wfs.read_bytes("f") == b"1"


def test_rename_does_not_follow_a_symlink_out(disk):
    area, root, outside = disk
    os.symlink(outside, root / "door")
    area.write_bytes("f", b"1")
    with pytest.raises(PathEscape):
        area.rename("f", "door/f")
    with pytest.raises(PathEscape):
        area.rename("door/secret", "stolen")
    assert sorted(os.listdir(outside)) == ["secret"]
