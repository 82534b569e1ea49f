"""Shared pieces of the reference fixture generators: a minimal safetensors writer/reader (F32 and BF16, no
safetensors package needed) and the padded training batch every fixture uses."""
import json
import struct

import torch


def tensor_bytes(t, dtype):
    t = t.detach().contiguous().cpu()
    if dtype == "F32":
        return t.to(torch.float32).numpy().astype("<f4", copy=False).tobytes(order="C")
    if dtype == "BF16":
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2", copy=False).tobytes(order="C")
    raise ValueError(dtype)


def write_safetensors(path, tensors, dtype="F32", metadata=None):
    """Minimal safetensors writer: u64 LE header length, JSON header padded with spaces to a multiple of 8,
    then raw little-endian data in insertion order."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = tensor_bytes(t, dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header["__metadata__"] = dict(metadata or {"format": "pt"})
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Reader used only for self-checking the writer."""
    import numpy as np
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n).decode("utf-8"))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        if info["dtype"] == "F32":
            arr = torch.from_numpy(np.frombuffer(data[b:e], dtype="<f4").copy())
        else:
            arr = torch.from_numpy(np.frombuffer(data[b:e], dtype="<i2").copy()).view(torch.bfloat16).float()
        out[name] = arr.reshape(info["shape"])
    return out


def make_batch(cfg, gen, B=3, T=16, left_pad=5, right_pad=3, prompt_len=4):
    """Random ids [B, T]: row 0 full, row 1 left-padded by left_pad, row 2 right-padded by right_pad;
    position_ids = clamp(cumsum(mask) - 1, 0); labels = ids with -100 on padding and the first prompt_len real tokens."""
    input_ids = torch.randint(0, cfg.vocab_size, (B, T), generator=gen)
    attention_mask = torch.ones(B, T, dtype=torch.long)
    attention_mask[1, :left_pad] = 0
    attention_mask[2, T - right_pad:] = 0
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    labels = input_ids.clone()
    labels[attention_mask == 0] = -100
    for b in range(B):
        real = torch.nonzero(attention_mask[b]).flatten()
        labels[b, real[:prompt_len]] = -100
    return input_ids, attention_mask, position_ids, labels
