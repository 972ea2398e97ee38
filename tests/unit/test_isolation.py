"""The unit tests stay unit tests: no server reachable, no server fixture set up."""

from __future__ import annotations

import socket

import pytest

from tests.unit.conftest import ConnectionRefusedInUnitTest


@pytest.mark.parametrize("port", [5432, 6379, 443])
def test_a_unit_test_cannot_connect(port: int) -> None:
    with pytest.raises(ConnectionRefusedInUnitTest):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_no_server_fixture_is_set_up(request: pytest.FixtureRequest) -> None:
    assert "template_db" not in request.fixturenames
    assert request.node.get_closest_marker("unit") is not None
