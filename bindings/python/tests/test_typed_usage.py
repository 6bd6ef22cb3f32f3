"""tests/typed_usage.py (type-checked by mypy --strict in scripts/test.sh)
also runs."""

import typed_usage


def test_typed_usage_runs() -> None:
    typed_usage.main()
