#!/usr/bin/env python3
"""man/md2man.py: builds consultd.conf(5) from docs/config.md.

consultd.conf.5 = man/consultd.conf.5.head + docs/config.md in troff +
man/consultd.conf.5.tail. The build runs it (CMakeLists.txt, target
manpages), so the page always matches the reference, which the test
config_docs_in_sync keeps matching the schema:

    python3 man/md2man.py docs/config.md [OUTPUT]

(Debian's pandoc would do this too; this keeps the build free of it.)
"""
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def inline(text: str) -> str:
    text = text.replace("\\", "\\e")
    text = re.sub(r"\*\*(.+?)\*\*", r"\\fB\1\\fR", text)
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text)
    text = re.sub(r"\*([^*]+)\*", r"\\fI\1\\fR", text)
    text = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1 (\2)", text)
    text = text.replace("-", "\\-")
    return text


def line_start(text: str) -> str:
    # A leading dot or quote would be read as a troff request.
    return "\\&" + text if text[:1] in (".", "'") else text


def convert(markdown: str) -> str:
    out = []
    paragraph = []

    def flush():
        if paragraph:
            out.append(".PP")
            out.append(line_start(inline(" ".join(paragraph))))
            paragraph.clear()

    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if line.startswith("# "):
            i += 1
            continue  # the title is in the .head
        if line.startswith("## "):
            flush()
            out.append(".SS " + inline(line[3:]))
        elif line.startswith("| setting"):
            flush()
            i += 2  # header and separator
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                name, kind, default, reload, description = cells[:5]
                out.append(".TP")
                out.append(f"{inline(name)} ({inline(kind)}, default {inline(default)}, reload: {reload})")
                out.append(line_start(inline(description)))
                i += 1
            continue
        elif line.startswith("- "):
            flush()
            item = [line[2:].strip()]
            while i + 1 < len(lines) and lines[i + 1].startswith("  ") and lines[i + 1].strip():
                i += 1
                item.append(lines[i].strip())
            out.append(".IP \\(bu 2")
            out.append(line_start(inline(" ".join(item))))
        elif not line.strip():
            flush()
        else:
            paragraph.append(line.strip())
        i += 1
    flush()
    return "\n".join(out) + "\n"


def main() -> None:
    source = Path(sys.argv[1]).read_text()
    page = (HERE / "consultd.conf.5.head").read_text() + convert(source) + (HERE / "consultd.conf.5.tail").read_text()
    if len(sys.argv) > 2:
        Path(sys.argv[2]).write_text(page)
    else:
        sys.stdout.write(page)


if __name__ == "__main__":
    main()
