"""Text commands for the store, one per line, such as "SET name ada" or "GET name"."""

from kvstore.store import Store, TransactionError

USAGE = {
    "SET": "SET key value",
    "GET": "GET key",
    "DELETE": "DELETE key",
    "COUNT": "COUNT value",
    "KEYS": "KEYS",
    "BEGIN": "BEGIN",
    "ROLLBACK": "ROLLBACK",
    "COMMIT": "COMMIT",
}
ARGUMENTS = {
    "SET": 2,
    "GET": 1,
    "DELETE": 1,
    "COUNT": 1,
    "KEYS": 0,
    "BEGIN": 0,
    "ROLLBACK": 0,
    "COMMIT": 0,
}


def execute(store: Store, line: str) -> str | None:
    """Run one command and return its output, or None for a command without output."""
    parts = line.split()
    if not parts:
        return None
    name, args = parts[0].upper(), parts[1:]
    if name not in ARGUMENTS:
        return f"ERROR unknown command {parts[0]}"
    if len(args) != ARGUMENTS[name]:
        return f"ERROR usage: {USAGE[name]}"

    if name == "SET":
        store.set(args[0], args[1])
        return None
    if name == "GET":
        value = store.get(args[0])
        return "NULL" if value is None else str(value)
    if name == "DELETE":
        try:
            store.delete(args[0])
        except KeyError:
            return "NOT FOUND"
        return None
    if name == "COUNT":
        return str(store.count(args[0]))
    if name == "KEYS":
        return " ".join(store.keys())
    return _transaction_command(store, name)


def _transaction_command(store: Store, name: str) -> str | None:
    if name == "BEGIN":
        store.begin()
        return None
    try:
        if name == "ROLLBACK":
            store.rollback()
        else:
            store.commit()
    except TransactionError:
        return "NO TRANSACTION"
    return None


def run_script(store: Store, text: str) -> list[str]:
    """Run every line of ``text`` and return the outputs, in order."""
    outputs = []
    for line in text.splitlines():
        output = execute(store, line)
        if output is not None:
            outputs.append(output)
    return outputs
