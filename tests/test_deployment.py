"""The compose file and the image, checked without Docker: one image built once, a
health check on every guanai service, bounded restarts, time to finish a send on stop,
log rotation, a non-root user, uv pinned, no tests or benchmarks in the image."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from guanai.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
GUANAI_SERVICES = ("migrate", "bot", "worker", "escalations", "matrix")
LONG_RUNNING = ("bot", "worker", "escalations", "matrix")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return dict(compose["services"])


def seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smh])", duration))


def test_one_image_built_once(services: dict[str, Any]) -> None:
    images = {services[name]["image"] for name in GUANAI_SERVICES}
    builders = [name for name, service in services.items() if "build" in service]

    assert len(images) == 1
    assert builders == ["migrate"]


def test_every_command_is_a_guanai_command(services: dict[str, Any]) -> None:
    for name in GUANAI_SERVICES:
        program, *args = services[name]["command"]
        assert program == "guanai"
        build_parser().parse_args(args)  # exits on an unknown command or option
    for name in LONG_RUNNING:
        program, *args = services[name]["healthcheck"]["test"][1:]
        build_parser().parse_args(args)


def test_long_running_services_are_health_checked_and_never_crash_loop(
    services: dict[str, Any],
) -> None:
    for name in LONG_RUNNING:
        service = services[name]
        assert service["healthcheck"]["test"] == ["CMD", "guanai", "health"], name
        policy, _, retries = service["restart"].partition(":")
        assert policy == "on-failure" and 0 < int(retries) <= 10, name
        assert seconds(service["stop_grace_period"]) >= 70, name  # a 60 s request, and more
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["restart"] == "no"


def test_every_service_rotates_its_logs(services: dict[str, Any]) -> None:
    for name, service in services.items():
        logging = service["logging"]
        assert logging["driver"] == "json-file", name
        assert {"max-size", "max-file"} <= set(logging["options"]), name


def test_the_image_runs_as_a_user_with_uv_pinned_and_no_apt_font() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    users = re.findall(r"^USER (\S+)", dockerfile, flags=re.MULTILINE)

    assert users and users[-1] not in ("root", "0")
    assert re.search(r"pip install [^\n]*\buv==\d+\.\d+\.\d+", dockerfile)
    assert "fonts-" not in dockerfile and "apt-get" not in dockerfile
    assert "--no-dev" in dockerfile and "--locked" in dockerfile


def test_tests_benchmarks_and_secrets_stay_out_of_the_image() -> None:
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())

    assert {"tests", "bench", ".env", ".git"} <= ignored


def test_services_wait_for_each_other_after_a_reboot(services: dict[str, Any]) -> None:
    """depends_on holds at `docker compose up`, not when the daemon restarts them all."""
    for name in LONG_RUNNING:
        assert float(services[name]["environment"]["STARTUP_WAIT_SECONDS"]) >= 60


def test_the_matrix_front_and_a_homeserver_are_optional(services: dict[str, Any]) -> None:
    """`docker compose up` starts neither; a profile each turns them on."""
    assert services["matrix"]["profiles"] == ["matrix"]
    assert services["homeserver"]["profiles"] == ["homeserver"]
    assert "matrix-store:/app/matrix-store" in services["matrix"]["volumes"]
    assert float(services["matrix"]["environment"]["STARTUP_WAIT_SECONDS"]) >= 60
