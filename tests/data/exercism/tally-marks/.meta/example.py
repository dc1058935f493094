def tally(count):
    if count < 0:
        raise ValueError("count must not be negative")
    groups = ["||||/"] * (count // 5)
    if count % 5:
        groups.append("|" * (count % 5))
    return " ".join(groups)
