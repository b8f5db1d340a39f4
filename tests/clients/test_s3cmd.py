"""s3cmd 2.4.0, path-style, in SigV4 and SigV2 mode (the fixture runs each test with both),
multipart in 5 MiB parts."""

from __future__ import annotations

from helpers import MiB, md5_hex, rand_bytes


def test_s3cmd_put_get_ls_del(s3cmd, s3, bucket_name, tmp_path):
    data = rand_bytes(2 * MiB + 11, "s3cmd")
    src = tmp_path / "upload.bin"
    src.write_bytes(data)
    small = tmp_path / "small name.txt"
    small.write_bytes(b"small file\n")

    s3cmd("mb", f"s3://{bucket_name}")
    assert f"s3://{bucket_name}" in s3cmd("ls").stdout

    s3cmd("put", src, f"s3://{bucket_name}/dir/upload.bin")
    s3cmd("put", small, f"s3://{bucket_name}/dir/small name.txt")
    head = s3.head_object(Bucket=bucket_name, Key="dir/upload.bin")
    assert head["ETag"] == f'"{md5_hex(data)}"'
    assert head["ContentLength"] == len(data)

    top = s3cmd("ls", f"s3://{bucket_name}").stdout
    assert "DIR" in top and f"s3://{bucket_name}/dir/" in top, top
    listing = s3cmd("ls", "--recursive", f"s3://{bucket_name}").stdout
    assert f"s3://{bucket_name}/dir/upload.bin" in listing
    assert f"s3://{bucket_name}/dir/small name.txt" in listing
    assert str(len(data)) in listing

    info = s3cmd("info", f"s3://{bucket_name}/dir/upload.bin").stdout
    assert md5_hex(data) in info, info

    out = tmp_path / "download.bin"
    s3cmd("get", f"s3://{bucket_name}/dir/upload.bin", out)  # s3cmd verifies the MD5 against the ETag
    assert out.read_bytes() == data
    out2 = tmp_path / "small-download.txt"
    s3cmd("get", f"s3://{bucket_name}/dir/small name.txt", out2)
    assert out2.read_bytes() == b"small file\n"

    s3cmd("del", f"s3://{bucket_name}/dir/upload.bin")
    listing = s3cmd("ls", "--recursive", f"s3://{bucket_name}").stdout
    assert "upload.bin" not in listing and "small name.txt" in listing
    s3cmd("del", "--recursive", "--force", f"s3://{bucket_name}/")
    assert s3cmd("ls", "--recursive", f"s3://{bucket_name}").stdout.strip() == ""
    s3cmd("rb", f"s3://{bucket_name}")
    assert f"s3://{bucket_name}" not in s3cmd("ls").stdout


def test_s3cmd_sync(s3cmd, s3, bucket, tmp_path):
    src = tmp_path / "tree"
    (src / "x" / "y").mkdir(parents=True)
    (src / "x" / "one").write_bytes(b"1")
    (src / "x" / "y" / "two").write_bytes(b"22")
    s3cmd("sync", f"{src}/", f"s3://{bucket}/mirror/")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["mirror/x/one", "mirror/x/y/two"]
    dst = tmp_path / "back"
    dst.mkdir()
    s3cmd("sync", f"s3://{bucket}/mirror/", f"{dst}/")
    assert (dst / "x" / "one").read_bytes() == b"1"
    assert (dst / "x" / "y" / "two").read_bytes() == b"22"


def test_s3cmd_multipart_put_get(s3cmd, s3, bucket, tmp_path):
    """Over multipart_chunk_size_mb (5), s3cmd uploads in parts and checks the result by the
    MD5 it stored in x-amz-meta-s3cmd-attrs."""
    data = rand_bytes(12 * MiB + 5, "s3cmd-multipart")
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    s3cmd("put", src, f"s3://{bucket}/big.bin")
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"'), head["ETag"]
    out = tmp_path / "big-download.bin"
    s3cmd("get", f"s3://{bucket}/big.bin", out)
    assert out.read_bytes() == data
    s3cmd("del", f"s3://{bucket}/big.bin")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
