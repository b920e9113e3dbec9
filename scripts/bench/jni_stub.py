#!/usr/bin/env python3
"""Stands in for the parts of one DJL JNI source file that do not compile against this libtorch.

  jni_stub.py IN.cc ERRORS.txt OUT.cc VERSION

Reads g++'s messages (ERRORS.txt) for IN.cc, finds each top-level block (function) holding an error
line of IN.cc, and writes OUT.cc with those blocks replaced: a JNIEXPORT function keeps its signature
and throws ai.djl.engine.EngineException ("<name>: not built against libtorch VERSION"), any other
block (a helper) is compiled out, so functions that call it fail to compile on the next round and are
stubbed in turn. The library then links and everything that did compile works; calling a stubbed
function fails loudly instead of crashing. With no error line inside IN.cc (the error is in a header)
every JNIEXPORT function is stubbed. Used by scripts/bench/gpu-jni.sh only after a real build failed;
it prints what it replaced and the errors are kept beside the build.
"""
import re
import sys

SIG = re.compile(r"JNIEXPORT\s+(\w+)\s+JNICALL\s+(Java_\w+)\s*\(([^)]*)\)\s*\{", re.S)


def blocks(text):
    """Top-level {...} blocks as (head_start, open_brace, close_brace) offsets; strings and comments skipped."""
    out, depth, i, head, n = [], 0, 0, 0, len(text)
    start = None
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        if text.startswith("/*", i):
            i = text.find("*/", i) + 2
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c == "#" and depth == 0 and (i == 0 or text[i - 1] == "\n"):
            i = text.find("\n", i)          # preprocessor line at top level
            i = n if i < 0 else i
            head = i + 1
            continue
        if c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                out.append((head, start, i))
                head = i + 1
        elif c == ";" and depth == 0:
            head = i + 1
        i += 1
    return out


def stub(sig_text, version):
    m = SIG.search(sig_text)
    ret, name, params = m.group(1), m.group(2), m.group(3)
    env = params.split(",")[0].split("*")[-1].strip()
    ret_stmt = "return;" if ret == "void" else "return {};"
    return (f"JNIEXPORT {ret} JNICALL {name}({' '.join(params.split())}) {{\n"
            f'  {env}->ThrowNew({env}->FindClass("ai/djl/engine/EngineException"), '
            f'"{name}: not built against libtorch {version} (scripts/bench/gpu-jni.sh)");\n  {ret_stmt}\n}}'), name


def main(src, errors, dst, version):
    text = open(src).read()
    base = src.rsplit("/", 1)[-1]
    lines = set()
    for ln in open(errors, errors="replace"):
        m = re.match(r"(\S+?):(\d+):(\d+:)?\s+(error|required from)", ln.strip())
        if m and m.group(1).rsplit("/", 1)[-1] == base:
            lines.add(int(m.group(2)))
    starts = [0]
    for k, ch in enumerate(text):
        if ch == "\n":
            starts.append(k + 1)
    to_line = lambda off: next(i for i in range(len(starts) - 1, -1, -1) if starts[i] <= off) + 1
    bl = blocks(text)
    hit = [b for b in bl if any(to_line(b[0]) <= ln <= to_line(b[2]) for ln in lines)] if lines else None
    if not hit:
        hit = [b for b in bl if SIG.search(text[b[0]:b[1] + 1])]
        print(f"jni_stub: {base}: no error line inside the file: stubbing all {len(hit)} JNI functions")
    out, pos = [], 0
    for b in sorted(hit):
        out.append(text[pos:b[0]])
        head = text[b[0]:b[1] + 1]
        sig = SIG.search(head)
        if sig:
            s, name = stub(head[sig.start():], version)
            out.append(head[:sig.start()] + s)
            print(f"jni_stub: {base}: stubbed {name}")
        else:
            out.append("\n#if 0 /* jni_stub: does not compile against libtorch " + version + " */\n"
                       + text[b[0]:b[2] + 1] + "\n#endif\n")
            print(f"jni_stub: {base}: compiled out a helper at line {to_line(b[0])}")
        pos = b[2] + 1
    out.append(text[pos:])
    open(dst, "w").write("".join(out))


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    main(*sys.argv[1:5])
