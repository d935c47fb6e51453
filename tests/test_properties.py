"""Property-based tests: configs and file parsers given arbitrary input fail only with clean errors."""
import gzip
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gankit import TrainConfig
from gankit.config import read_config_file
from gankit.data import load_dataset
from gankit.data.idx import parse_idx, read_idx
from gankit.errors import ConfigError, DataError

from conftest import tiny

KEYS = [f.name for f in TrainConfig.__dataclass_fields__.values()] + ["bogus", "Model", ""]
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                   st.text(max_size=12), st.lists(st.integers(-5, 2000), max_size=3),
                   st.sampled_from(["dcgan", "mlp", "cgan", "acgan", "hinge", "wgan-gp", "digits", "ring", "adam"]))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6))
def test_any_config_dict_is_valid_or_a_config_error(d):
    try:
        cfg = TrainConfig.from_dict(d)
    except ConfigError as e:
        assert "\n" not in str(e) and str(e)
    else:
        assert cfg.lr > 0 and cfg.batch_size >= 1 and cfg.n_critic >= 1


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_config_file_with_random_bytes(tmp_path, data):
    for suffix in (".yaml", ".json"):
        p = tmp_path / f"c{suffix}"
        p.write_bytes(data)
        try:
            TrainConfig.from_dict(read_config_file(p))
        except ConfigError as e:
            assert "\n" not in str(e)


def _idx_header(dims):
    return bytes([0, 0, 8, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=200),
                 st.builds(lambda dims, body: _idx_header(dims) + body,
                           st.lists(st.integers(0, 6), min_size=1, max_size=3), st.binary(max_size=200))))
def test_idx_parser_on_random_bytes(data):
    try:
        arr = parse_idx(data)
    except DataError as e:
        assert "\n" not in str(e)
    else:
        assert arr.size * arr.itemsize == len(data) - 4 - 4 * data[3]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_gzipped_idx_file_with_random_bytes(tmp_path, data):
    for payload in (data, gzip.compress(data), gzip.compress(data)[: max(1, len(data) // 2)]):
        p = tmp_path / "x-ubyte.gz"
        p.write_bytes(payload)
        try:
            read_idx(p)
        except DataError:
            pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=4), st.booleans())
def test_image_folder_with_random_files(tmp_path, blobs, strict):
    folder = tmp_path / "imgs"
    if folder.exists():
        for f in folder.iterdir():
            f.unlink()
    folder.mkdir(exist_ok=True)
    png_head = b"\x89PNG\r\n\x1a\n"
    for i, b in enumerate(blobs):
        (folder / f"{i}.png").write_bytes(png_head + b if i % 2 else b)
    with pytest.raises(DataError) as e:  # random bytes are never a decodable 16px image
        load_dataset(tiny(data="folder", data_root=str(folder), image_size=16, strict=strict))
    assert "\n" not in str(e.value)
