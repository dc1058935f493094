"""Reading CSV text with a header line into a list of dicts."""

from csvline import split_line


def read_table(text: str, sep: str = ",") -> list[dict[str, str]]:
    """Return one dict per data line, keyed by the header fields."""
    lines = text.splitlines()
    header = split_line(lines[0], sep)
    rows = []
    for line in lines[1:]:
        if not line.strip():
            continue
        rows.append(dict(zip(header, split_line(line, sep))))
    return rows
