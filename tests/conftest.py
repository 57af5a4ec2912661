import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pytest  # noqa: E402

ENGINES = ["unit", "population"]


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    """Runs a test once per engine: every oracle must hold for both."""
    return request.param
