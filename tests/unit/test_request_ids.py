import threading
import uuid

from lambdalite.services.http import new_request_id


def test_request_ids_are_version_4_uuids_and_unique_across_threads() -> None:
    seen: list[str] = []

    def take() -> None:
        seen.extend(new_request_id() for _ in range(5000))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == len(seen) == 20000
    for rid in seen[:1000]:
        parsed = uuid.UUID(rid)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == rid
