"""The one error type every user-facing check raises, and the wording it uses.

The command line turns an :class:`InputError` into one line on stderr and exit status 2. The wording
follows attrs: ``'bandwidth' must be > 0 (got -3.0).``
"""

from __future__ import annotations

__all__ = ["InputError", "check_int", "check_number", "must", "relabel"]


class InputError(ValueError):
    """A user-supplied value breaks a rule. The message is one full sentence naming both."""


def must(name: str, rule: str, value: object) -> InputError:
    """Build the standard message: ``'name' must rule (got value).``"""
    return InputError(f"'{name}' must {rule} (got {value!r}).")


def relabel(error: InputError, labels: dict[str, str] | None = None, **more: str) -> InputError:
    """The same message naming the option as the user typed it: ``'num_clients' must ...`` becomes
    ``'clients' must ...`` for ``labels={'num_clients': 'clients'}``. Unchanged if no name matches."""
    text = str(error)
    for name, label in {**(labels or {}), **more}.items():
        prefix = f"'{name}'"
        if text.startswith(prefix):
            return InputError(f"'{label}'{text[len(prefix):]}")
    return error


def check_number(name: str, value: object, *, minimum: float | None = None,
                 exclusive_minimum: float | None = None, maximum: float | None = None) -> float:
    """Return ``value`` as a finite float, or raise :class:`InputError` naming ``name``."""
    if isinstance(value, bool):
        raise must(name, "be a number", value)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise must(name, "be a number", value) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise must(name, "be finite", value)
    if exclusive_minimum is not None and not number > exclusive_minimum:
        raise must(name, f"be > {exclusive_minimum:g}", value)
    if minimum is not None and number < minimum:
        raise must(name, f"be >= {minimum:g}", value)
    if maximum is not None and number > maximum:
        raise must(name, f"be <= {maximum:g}", value)
    return number


def check_int(name: str, value: object, *, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise :class:`InputError` naming ``name``."""
    if isinstance(value, bool):
        raise must(name, "be an integer", value)
    if isinstance(value, int):
        number = value
    else:
        try:
            as_float = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise must(name, "be an integer", value) from None
        if not as_float.is_integer():
            raise must(name, "be an integer", value)
        number = int(as_float)
    if minimum is not None and number < minimum:
        raise must(name, f"be >= {minimum}", value)
    if maximum is not None and number > maximum:
        raise must(name, f"be <= {maximum}", value)
    return number
