#!/usr/bin/env python3
"""Golden values for DataFingerprints (docs/GUARANTEES.md, "Resume"): the size and SHA-256 that a run of the test
data records in paft_state.json, computed independently with hashlib (paft streams the file through Java's
MessageDigest). Prints one line per file: PATH SIZE SHA256. Run from the repository root:
    /usr/bin/python3 scripts/golden/data_fingerprints.py
The values are the constants of dev.paft.attack.ResumeDataAttackTest."""
import hashlib
import os

for path in ["src/test/resources/train/data/sft_train.jsonl", "src/test/resources/train/data/sft_eval.jsonl"]:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    print(path, os.path.getsize(path), h.hexdigest())
