"""A line diff from the longest common subsequence of two lists of lines."""


def diff_ops(old: list[str], new: list[str]) -> list[tuple[str, int, int]]:
    """Return the edit script from ``old`` to ``new`` as (tag, old_index, new_index) triples.

    The tag is "equal", "delete" (old[old_index] goes) or "insert" (new[new_index] comes
    before old[old_index]). The script keeps as many lines as possible.
    """
    rows, columns = len(old), len(new)
    # common[i][j] is the length of the longest common subsequence of old[i:] and new[j:].
    common = [[0] * (columns + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(columns - 1, -1, -1):
            if old[i] == new[j]:
                common[i][j] = common[i + 1][j + 1] + 1
            else:
                common[i][j] = max(common[i + 1][j], common[i][j + 1])

    ops = []
    i = j = 0
    while i < rows and j < columns:
        if old[i] == new[j]:
            ops.append(("equal", i, j))
            i, j = i + 1, j + 1
        elif common[i + 1][j] >= common[i][j + 1]:
            ops.append(("delete", i, j))
            i += 1
        else:
            ops.append(("insert", i, j))
            j += 1
    ops.extend(("delete", index, j) for index in range(i, rows))
    ops.extend(("insert", rows, index) for index in range(j, columns))
    return ops
