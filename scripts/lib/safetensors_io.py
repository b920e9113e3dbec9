"""The one safetensors reader and writer of paft's Python scripts (golden values, benchmarks, the demo).

Format: an unsigned 64-bit little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}
(plus an optional "__metadata__" of strings), padded with spaces to a multiple of 8, then the raw
little-endian data. Import it with

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
    import safetensors_io as st
"""
import json
import struct

try:   # write_zeros and read_header need neither (scripts/bench/make_sparse_model.py runs on a bare python3),
    import numpy as np      # write of numpy arrays needs numpy only
except ImportError:
    np = None
try:
    import torch

    DTYPES = {
        "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
        "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
        "BOOL": torch.bool,
    }
    NAMES = {v: k for k, v in DTYPES.items()}
except ImportError:
    torch = None
SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1",
         "BOOL": "u1"}


def dtype_of(t):
    """The safetensors dtype name of a torch tensor or numpy array."""
    if torch is not None and isinstance(t, torch.Tensor):
        return NAMES[t.dtype]
    if t.dtype == bool:
        return "BOOL"
    return {np.dtype(v): k for k, v in NUMPY.items() if k != "BOOL"}[t.dtype.newbyteorder("<")]


def tensor_bytes(t, dtype=None):
    """Little-endian bytes of tensor t (torch, or numpy: BF16 from numpy needs torch) stored as dtype
    (default: its own dtype)."""
    dtype = dtype or dtype_of(t)
    if torch is not None and isinstance(t, torch.Tensor):
        t = t.to(DTYPES[dtype]).contiguous()
        if dtype == "BF16":
            return t.view(torch.int16).numpy().astype("<i2").tobytes()
        t = t.numpy()
    elif dtype == "BF16":
        return tensor_bytes(torch.from_numpy(np.ascontiguousarray(t)), dtype)
    return np.ascontiguousarray(t).astype(NUMPY[dtype]).tobytes()


def header_bytes(header, pad=True):
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    if pad:
        h += b" " * (-len(h) % 8)
    return h


def write(path, tensors, dtypes=None, default=None, metadata=None, metadata_first=True, pad=True):
    """Writes {name: tensor} in the dict's order. dtypes: {name: "BF16", ...}; default: the dtype of the
    other floating-point tensors (None: each tensor's own; integer tensors keep theirs); metadata: {str: str} (metadata_first: where it stands in the header,
    the files already committed differ); pad=False leaves the header unpadded (a format edge case)."""
    header, blobs, off = {}, [], 0
    if metadata and metadata_first:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        own = dtype_of(t)
        dt = (dtypes or {}).get(name) or (default if default and own.startswith(("F", "BF")) else own)
        b = tensor_bytes(t, dt)
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata and not metadata_first:
        header["__metadata__"] = metadata
    h = header_bytes(header, pad)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_zeros(path, shapes, dtype, metadata=None):
    """A file whose data section is a hole (zeros, no disk blocks): {name: shape} all stored as dtype.
    Returns the data size in bytes."""
    header, off = {}, 0
    for name, dims in shapes.items():
        n = 1
        for d in dims:
            n *= d
        header[name] = {"dtype": dtype, "shape": list(dims), "data_offsets": [off, off + n * SIZES[dtype]]}
        off += n * SIZES[dtype]
    if metadata:
        header["__metadata__"] = metadata
    h = header_bytes(header)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        f.truncate(8 + len(h) + off)
    return off


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)), 8 + n


def read(path, dtypes=("F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"), device=None):
    """{name: tensor} in the file's dtypes (only those in dtypes; others are skipped)."""
    header, start = read_header(path)
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__" or e["dtype"] not in dtypes:
            continue
        a, b = e["data_offsets"]
        raw = np.frombuffer(data[a:b], dtype=np.uint8).copy()
        dt = e["dtype"]
        if dt == "BF16":
            t = torch.from_numpy(raw.view("<i2").copy()).view(torch.bfloat16)
        elif dt == "BOOL":
            t = torch.from_numpy(raw.astype(bool))
        else:
            t = torch.from_numpy(raw.view(torch.empty(0, dtype=DTYPES[dt]).numpy().dtype.newbyteorder("<")).copy())
        t = t.reshape(e["shape"])
        out[name] = t if device is None else t.to(device)
    return out
