"""rclone (Debian package) with an `s3` remote, provider Other.

The rclone fixture sets upload_cutoff = 16M with 5 MiB chunks, so the tree's two large files go
multipart: `rclone check` then compares the MD5 rclone stored in the object's metadata
(X-Amz-Meta-Md5chksum) instead of the ETag, and both paths must agree.
"""

from __future__ import annotations

import filecmp
import random
from pathlib import Path

from helpers import MiB, rand_bytes

DIRS = ["", "nested/a", "nested/a/b/c", "with space", "ünïcödé/日本語", "dots.in.name", "x/y+z"]


def _make_tree(root: Path, n_files: int = 50) -> dict[str, int]:
    rng = random.Random(4242)
    sizes = [0, 1, 4095, 4096, 4097, 3 * MiB, 17 * MiB + 5, 41 * MiB]
    sizes += [rng.randint(0, 3 * MiB) for _ in range(n_files - len(sizes))]
    files = {}
    for i, size in enumerate(sizes):
        d = DIRS[i % len(DIRS)]
        name = ["file", "file with space", "ファイル", "percent%20", "plus+", "semi;colon"][i % 6] + f"-{i}.bin"
        rel = f"{d}/{name}" if d else name
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rand_bytes(size, f"rclone-{i}"))
        files[rel] = size
    return files


def _compare_trees(a: Path, b: Path):
    cmp = filecmp.dircmp(a, b)
    problems = []

    def walk(c, prefix=""):
        problems.extend(f"only in source: {prefix}{x}" for x in c.left_only)
        problems.extend(f"only in copy: {prefix}{x}" for x in c.right_only)
        for name in c.common_files:
            if (Path(c.left) / name).read_bytes() != (Path(c.right) / name).read_bytes():
                problems.append(f"bytes differ: {prefix}{name}")
        for name, sub in c.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(cmp)
    return problems


def test_rclone_copy_check_ls_copy_back(rclone, s3, bucket_name, tmp_path):
    src = tmp_path / "src"
    files = _make_tree(src)
    assert len(files) == 50

    rclone("mkdir", f"mys3:{bucket_name}")
    rclone("copy", src, f"mys3:{bucket_name}/tree", "--transfers", "8", "--checkers", "8")

    # rclone check compares sizes and MD5 (the ETag, or for multipart files rclone's own metadata)
    check = rclone("check", src, f"mys3:{bucket_name}/tree", check=False)
    assert check.returncode == 0, check
    assert "0 differences found" in check.stderr, check
    assert "hashes could not be checked" not in check.stderr, check

    ls = rclone("ls", f"mys3:{bucket_name}/tree").stdout
    lines = [line for line in ls.splitlines() if line.strip()]
    assert len(lines) == 50, ls
    listed = {line.strip().split(" ", 1)[1]: int(line.strip().split(" ", 1)[0]) for line in lines}
    assert listed == files

    md5sum = rclone("md5sum", f"mys3:{bucket_name}/tree").stdout
    assert len([line for line in md5sum.splitlines() if line.strip()]) == 50
    assert all(len(line.split()[0]) == 32 for line in md5sum.splitlines() if line.strip()), md5sum

    # the objects really are there for another client too
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket_name):
        keys += [o["Key"] for o in page.get("Contents", [])]
    assert sorted(keys) == sorted(f"tree/{k}" for k in files)

    dst = tmp_path / "dst"
    rclone("copy", f"mys3:{bucket_name}/tree", dst, "--transfers", "8")
    assert _compare_trees(src, dst) == []

    # a second copy transfers nothing (size + mtime/hash match)
    again = rclone("copy", src, f"mys3:{bucket_name}/tree", "-v")
    assert "Copied (new)" not in again.stderr and "Copied (replaced" not in again.stderr, again

    rclone("purge", f"mys3:{bucket_name}")
    assert bucket_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_rclone_sync_deletes_extraneous(rclone, s3, bucket, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "keep").write_bytes(b"keep")
    s3.put_object(Bucket=bucket, Key="dir/extra", Body=b"extra")
    rclone("sync", src, f"mys3:{bucket}/dir")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["dir/keep"]
