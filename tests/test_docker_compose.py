"""docker-compose.yml (issue 14, fault 3): every long-running service restarts by itself, Redis keeps its queue on a
volume, and web, worker and beat start only after the migrate service completed."""

from pathlib import Path

import yaml

COMPOSE = yaml.safe_load((Path(__file__).resolve().parent.parent / "docker-compose.yml").read_text("utf-8"))
SERVICES = COMPOSE["services"]


def test_long_running_services_restart_and_migrate_runs_once():
    for name in ("db", "redis", "web", "worker", "beat"):
        assert SERVICES[name]["restart"] == "unless-stopped", name
    assert SERVICES["migrate"]["restart"] == "no"
    assert "migrate" not in SERVICES["migrate"]["depends_on"]


def test_web_worker_and_beat_wait_for_the_migration_to_complete():
    for name in ("web", "worker", "beat"):
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["db"]["condition"] == "service_healthy" and depends["redis"]["condition"] == "service_healthy"


def test_redis_keeps_its_queue_on_a_volume():
    redis = SERVICES["redis"]
    assert "--appendonly" in redis["command"] and "redisdata:/data" in redis["volumes"]
    assert "redisdata" in COMPOSE["volumes"] and "healthcheck" in redis
