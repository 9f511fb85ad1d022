"""registry.replica without a replica configured (the slow test tests/test_replica.py runs a real one): every read
and write goes to the primary, the change feed is primary-only, and only the primary is migrated."""

from registry.models import ChangeEvent, Office
from registry.replica import PRIMARY_ONLY, ReplicaRouter, read_alias, replica_reads, replica_status


def test_without_a_replica_everything_reads_and_writes_the_primary():
    router = ReplicaRouter()
    with replica_reads():
        assert read_alias(Office) == "default"
        assert read_alias() == "default"
        assert router.db_for_read(Office) == "default"
        assert replica_status(fresh=True)[0] is False
    assert router.db_for_write(Office) == "default"


def test_the_change_feed_and_sessions_are_primary_only_and_the_replica_is_never_migrated():
    assert ChangeEvent._meta.label_lower in PRIMARY_ONLY
    assert {"registry.webhookdelivery", "sessions.session", "registry.user"} <= PRIMARY_ONLY
    router = ReplicaRouter()
    assert router.allow_migrate("default", "registry") is True
    assert router.allow_migrate("replica", "registry") is False
