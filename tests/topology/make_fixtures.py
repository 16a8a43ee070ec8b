#!/usr/bin/env python3
"""Writes the hwloc XML fixtures of tests/test_topology.c and the specs.

Each starts from an hwloc synthetic description exported by lstopo, then
gets what synthetic descriptions cannot say: distances, huge pages, offline
or disallowed processors, a memory-less node. Run from this directory with
hwloc's tools installed; the output is committed."""
import re
import subprocess


def synthetic_xml(desc):
    return subprocess.run(["lstopo-no-graphics", "--input", desc, "--of", "xml", "-"],
                          check=True, capture_output=True, text=True).stdout


def add_distances(xml, ids, distance):
    vals = " ".join(str(distance(a, b)) for a in ids for b in ids)
    idx = " ".join(str(i) for i in ids)
    block = (f'  <distances2 type="NUMANode" nbobjs="{len(ids)}" kind="5" indexing="os">\n'
             f'    <indexes length="{len(idx) + 1}">{idx} </indexes>\n'
             f'    <u64values length="{len(vals) + 1}">{vals} </u64values>\n'
             f'  </distances2>\n')
    return xml.replace("  </object>\n  <support", "  </object>\n" + block + "  <support", 1)


def add_pages(xml, node, size, count):
    """A huge page type on the NUMA node with this OS index."""
    pattern = re.compile(r'(<object type="NUMANode" os_index="%d"[^>]*>\n)' % node)
    line = f'        <page_type size="{size}" count="{count}"/>\n'
    return pattern.sub(lambda m: m.group(1) + line, xml, count=1)


def root_attr(xml, name, value):
    return re.sub(r'(<object type="Machine"[^>]* %s=")[^"]*"' % name,
                  lambda m: m.group(1) + value + '"', xml, count=1)


def write(name, xml):
    with open(name, "w") as f:
        f.write(xml)


# A 2-socket server with SMT: 8 cores x 2 threads and 64 GiB per socket,
# 2M and 1G huge pages.
xml = synthetic_xml("pack:2 numa:1(memory=64GiB) core:8 pu:2")
xml = add_distances(xml, [0, 1], lambda a, b: 10 if a == b else 21)
xml = add_pages(xml, 0, 2 << 20, 1024)
xml = add_pages(xml, 0, 1 << 30, 4)
xml = add_pages(xml, 1, 2 << 20, 512)
write("two-socket-smt.xml", xml)

# 4 nodes per socket (sub-NUMA clustering), 8 nodes: 10 local, 12 in the
# socket, 32 across.
xml = synthetic_xml("pack:2 numa:4(memory=32GiB) core:4 pu:2")
write("eight-node.xml", add_distances(
    xml, list(range(8)), lambda a, b: 10 if a == b else 12 if a // 4 == b // 4 else 32))

# Two sockets and a CXL memory expander: node 2 has memory and no processors.
xml = synthetic_xml("[numa(memory=128GiB)] pack:2 [numa(memory=32GiB)] core:4 pu:1")
write("cxl.xml", add_distances(
    xml, [0, 1, 2], lambda a, b: 10 if a == b else 21 if 2 not in (a, b) else 40))

# Node 1 has processors and no local memory.
xml = synthetic_xml("pack:2 numa:1(memory=16GiB) core:2 pu:1")
xml = re.sub(r'(<object type="NUMANode" os_index="1"[^>]*local_memory=")\d+"',
             lambda m: m.group(1) + '0"', xml)
write("memoryless.xml", xml)

# Processors 8 and 9 are present but offline.
xml = synthetic_xml("pack:1 numa:2(memory=8GiB) core:4 pu:1")
write("offline.xml", root_attr(xml, "complete_cpuset", "0x000003ff"))

# The process's cpuset allows processors 0-3 and 8-9 and memory node 0.
xml = synthetic_xml("pack:2 numa:1(memory=16GiB) core:4 pu:2")
xml = root_attr(xml, "allowed_cpuset", "0x0000030f")
write("cgroup.xml", root_attr(xml, "allowed_nodeset", "0x00000001"))
