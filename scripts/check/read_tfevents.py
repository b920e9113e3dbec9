#!/usr/bin/env python3
"""Reads TensorBoard event files with the python protobuf runtime, independently of paft's Java writer.

Usage: scripts/check/read_tfevents.py RUN_DIR_OR_EVENT_FILE...   (needs python3-protobuf: apt install python3-protobuf)

Checks each TFRecord's masked CRC-32C (length and data), decodes every record as TensorBoard's Event message
(event.proto / summary.proto fields, declared below from their published field numbers) and prints, per tag,
the steps and the last value. Exit 1 on a CRC mismatch or an undecodable record.
"""
import os
import struct
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def event_class():
    f = descriptor_pb2.FileDescriptorProto(name="tb_event_subset.proto", package="tensorboard", syntax="proto3")
    value = f.message_type.add(name="SummaryValue")
    value.field.add(name="tag", number=1, type=9, label=1)              # string
    value.field.add(name="simple_value", number=2, type=2, label=1)     # float
    summary = f.message_type.add(name="Summary")
    summary.field.add(name="value", number=1, type=11, label=3, type_name=".tensorboard.SummaryValue")
    event = f.message_type.add(name="Event")
    event.field.add(name="wall_time", number=1, type=1, label=1)        # double
    event.field.add(name="step", number=2, type=3, label=1)             # int64
    event.field.add(name="file_version", number=3, type=9, label=1)     # string
    event.field.add(name="summary", number=5, type=11, label=1, type_name=".tensorboard.Summary")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    desc = pool.FindMessageTypeByName("tensorboard.Event")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


def records(path):
    with open(path, "rb") as fh:
        data = fh.read()
    pos = 0
    while pos < len(data):
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (crc_len,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if crc_len != masked(header):
            raise ValueError(f"{path}: length CRC mismatch at byte {pos}")
        body = data[pos + 12:pos + 12 + length]
        (crc_body,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        if crc_body != masked(body):
            raise ValueError(f"{path}: data CRC mismatch at byte {pos}")
        yield body
        pos += 16 + length


def main(args):
    files = []
    for a in args:
        if os.path.isdir(a):
            for root, _, names in os.walk(a):
                files += [os.path.join(root, n) for n in sorted(names) if n.startswith("events.out.tfevents.")]
        else:
            files.append(a)
    if not files:
        print("no event files found", file=sys.stderr)
        return 1
    Event = event_class()
    for path in files:
        tags = {}
        version = None
        n = 0
        for body in records(path):
            ev = Event()
            ev.ParseFromString(body)
            n += 1
            if ev.file_version:
                version = ev.file_version
            for v in ev.summary.value:
                tags.setdefault(v.tag, []).append((ev.step, v.simple_value))
        print(f"{path}: {n} records, file_version={version!r}")
        for tag, pts in sorted(tags.items()):
            print(f"  {tag}: steps {[s for s, _ in pts]}, last {pts[-1][1]:.6g}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
