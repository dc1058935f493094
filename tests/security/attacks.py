"""Hostile programs for the resource attacks: agent.py sources and bodies of calc.add.

Agent programs run as /agent/agent.py. Scoring attacks are function bodies that
``lab.scoring_attack`` turns into the workspace's ``calc.add``, which the hidden tests call.
"""

from evolarium.sandbox import Limits

# Agent runs that must hit a limit get a short timeout, so a missed limit ends quickly.
ATTACK_LIMITS = Limits(timeout_s=8, memory_mb=256, pids=64, workspace_mb=16, tmp_mb=16)
ATTACK_SECONDS = 8
TWO_GB_BLOCKS = 2048
"""Blocks of 1 MiB in 2 GiB."""

FORK_BOMB = """\
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""

MEMORY_BOMB = """\
chunks = []
while True:
    chunks.append(b"x" * (16 * 1024 * 1024))
"""

SIGTERM_LOOP = """\
import signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
while True:
    pass
"""

SPARSE_FILE = """\
with open("/workspace/sparse.bin", "wb") as stream:
    stream.seek(10 * 1024**3)
    stream.write(b"x")
"""

NON_UTF8_NAME = """\
with open(b"/workspace/\\xff\\xfe-name.py", "wb") as stream:
    stream.write(b"VALUE = 1\\n")
print("after-the-file")
"""

AGENT_OUTPUT = f"""\
import sys
block = b"y" * (1 << 20)
for _ in range({TWO_GB_BLOCKS}):
    sys.stdout.buffer.write(block)
sys.stdout.flush()
"""

BINARY_OUTPUT = """\
import sys
junk = bytes(range(0x80, 0x100)) + b"\\0" * 16
for stream in (sys.stdout.buffer, sys.stderr.buffer):
    stream.write(junk + b"after-the-junk\\n")
    stream.flush()
"""

# Workspace code cannot print past pytest's capture, which writes to a file in /tmp. So
# this code writes to the pipe that the harness reads, the only FIFO among its descriptors.
SCORING_OUTPUT = f"""\
import os
import stat
if getattr(add, "done", False):
    return None
add.done = True
pipe = next(
    fd for fd in range(3, 1024)
    if _is_fifo(fd)
)
block = b"y" * (1 << 20)
for _ in range({TWO_GB_BLOCKS}):
    os.write(pipe, block)
return None
"""

SCORING_BINARY_OUTPUT = """\
import os
junk = bytes(range(0x80, 0x100)) + b"\\0" * 16
for fd in range(3, 1024):
    if _is_fifo(fd):
        os.write(fd, junk + b"after-the-junk\\n")
raise ValueError(junk.decode("latin-1") + "after-the-junk")
"""

IS_FIFO = """\
import os
import stat


def _is_fifo(fd):
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False


"""


def fill(path: str) -> str:
    """Code that writes 10 GB to ``path`` in blocks of 1 MiB."""
    return (
        'block = b"z" * (1 << 20)\n'
        f'with open("{path}", "wb") as stream:\n'
        "    for _ in range(10 * 1024):\n"
        "        stream.write(block)\n"
    )
