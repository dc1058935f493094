"""The error type of the expression package."""


class ExpressionError(ValueError):
    """Raised for an invalid expression or one that cannot be evaluated."""
