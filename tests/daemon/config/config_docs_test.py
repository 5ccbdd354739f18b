#!/usr/bin/python3
"""etc/consultd.conf and docs/config.md list every setting the schema declares.

The schema (daemon/src/config/Schema.cpp plus each bundled plugin's
settings()) is printed by `consultd --print-schema`; this test fails when a
setting is missing from the commented reference config or from the docs, or
when the docs show another type or default than the schema."""
import os
import re
import subprocess
import sys
import tempfile

src = os.environ["CONSULTD_SOURCE_DIR"]
binary = os.environ["CONSULTD_BIN"]
plugins = os.environ["CONSULTD_PLUGIN_DIR"]

with tempfile.TemporaryDirectory() as tmp:
    conf = os.path.join(tmp, "consultd.conf")
    with open(conf, "w") as f:
        f.write('providers = { plugin_dir = "%s"; };\n' % plugins)
    schema = subprocess.run([binary, "--config", conf, "--print-schema"], check=True,
                            capture_output=True, text=True).stdout

rows = re.findall(r"^\| `([a-z_.]+)` \| ([^|]+) \| `([^`]*)` \| (yes|no) \|", schema, re.M)
if len(rows) < 30:
    sys.exit("schema has only %d settings: --print-schema output broken?" % len(rows))
etc = open(os.path.join(src, "etc/consultd.conf")).read()
docs = open(os.path.join(src, "docs/config.md")).read()
docs_rows = {m[0]: m for m in re.findall(r"^\| `([a-z_.]+)` \| ([^|]+) \| `([^`]*)` \| (yes|no) \|", docs, re.M)}

problems = []
for name, kind, default, reload in rows:
    leaf = name.rsplit(".", 1)[1]
    group = name.rsplit(".", 1)[0].split(".")[-1]
    # The setting appears (commented or not) inside its group block of etc/consultd.conf.
    block = re.search(r"^\s*%s = \{(.*?)^\s*\};" % re.escape(group), etc, re.M | re.S)
    if not block or not re.search(r"^\s*#?\s*%s = " % re.escape(leaf), block.group(1), re.M):
        problems.append("etc/consultd.conf lacks %s" % name)
    doc = docs_rows.get(name)
    if doc is None:
        problems.append("docs/config.md lacks %s" % name)
    elif name != "providers.plugin_dir" and (doc[1].strip(), doc[2], doc[3]) != (kind.strip(), default, reload):
        problems.append("docs/config.md shows %s as %s/%s/%s, schema says %s/%s/%s"
                        % (name, doc[1].strip(), doc[2], doc[3], kind.strip(), default, reload))
for name in docs_rows:
    if name not in {r[0] for r in rows}:
        problems.append("docs/config.md documents %s, which the schema does not declare" % name)

if problems:
    print("\n".join(problems))
    print("regenerate the tables with: build/daemon/consultd --config etc/dev.conf --print-schema")
    sys.exit(1)
print("%d settings in sync" % len(rows))
