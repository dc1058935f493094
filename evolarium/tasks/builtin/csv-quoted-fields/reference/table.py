"""Reading CSV text with a header line into a list of dicts."""

from csvline import split_line


def read_table(text: str, sep: str = ",") -> list[dict[str, str]]:
    """Return one dict per data line, keyed by the header fields.

    Blank lines are skipped. Raises ValueError naming the 1-based line number when a
    line has a different number of fields than the header.
    """
    lines = text.splitlines()
    header = split_line(lines[0], sep)
    rows = []
    for line_number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = split_line(line, sep)
        if len(fields) != len(header):
            raise ValueError(
                f"line {line_number}: expected {len(header)} fields, got {len(fields)}"
            )
        rows.append(dict(zip(header, fields, strict=True)))
    return rows
