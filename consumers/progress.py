"""Whether a consumer group has consumed every partition of its topics to the end.

"Caught up" is a property of the group, not of one member: every partition of every
subscribed topic has a committed offset at its end, whoever held the partition before. A
member that owns nothing (the group is still joining, or has more members than
partitions) can still tell, and a member that owns a few partitions is not done while
another partition lags.

The end of a partition is the larger of ``end_offsets`` and the high watermark of a fetch
from the committed offset, made by a consumer outside the group: some brokers (the bundled
test broker among them) report an end offset short of the last batch, and the fetch
response carries the true high watermark. The check is made when the service is idle, so
the fetch costs little.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition


@dataclass(frozen=True)
class PartitionProgress:
    committed: int | None
    end: int

    @property
    def lag(self) -> int:
        return max(self.end - (self.committed or 0), 0)


class GroupProgress:
    """Committed offsets of a group against the ends of its partitions."""

    def __init__(
        self,
        group_id: str,
        admin: KafkaAdminClient,
        probe: Callable[[], KafkaConsumer],
        topic_matches: Callable[[str], bool],
        *,
        confirm_seconds: float = 2.0,
    ) -> None:
        self.group_id = group_id
        #: Reads the group's committed offsets without taking part in the group.
        self.admin = admin
        #: Makes a consumer outside any group, used only to fetch from the committed offsets.
        #: A new one per look, so that no fetch of an earlier look is taken for this one's.
        self.make_probe = probe
        self.topic_matches = topic_matches
        self.confirm_seconds = confirm_seconds

    def close(self) -> None:
        self.admin.close()

    def partitions(self, probe: KafkaConsumer) -> list[TopicPartition]:
        """Every partition of every topic the group subscribes to, as the broker has them."""
        found: list[TopicPartition] = []
        for topic in sorted(t for t in probe.topics() if self.topic_matches(t)):
            for partition in sorted(probe.partitions_for_topic(topic) or ()):
                found.append(TopicPartition(topic, partition))
        return found

    def progress(self) -> dict[TopicPartition, PartitionProgress]:
        """Per partition, the group's committed offset and the end of the partition."""
        probe = self.make_probe()
        try:
            return self._progress(probe)
        finally:
            probe.close()

    def _progress(self, probe: KafkaConsumer) -> dict[TopicPartition, PartitionProgress]:
        partitions = self.partitions(probe)
        if not partitions:
            return {}
        stored = self.admin.list_group_offsets({self.group_id: partitions}).get(self.group_id, {})
        committed = {
            tp: o.offset if (o := stored.get(tp)) is not None and o.offset >= 0 else None
            for tp in partitions
        }
        ends = probe.end_offsets(partitions)
        starts = probe.beginning_offsets(partitions)
        # The group's position in a partition it never committed is its first offset.
        position = {
            tp: committed[tp] if committed[tp] is not None else starts[tp] for tp in partitions
        }
        confirmed = self._confirmed_ends(probe, partitions, position)
        return {
            tp: PartitionProgress(
                committed[tp], max(ends.get(tp) or 0, confirmed.get(tp, 0), starts.get(tp) or 0)
            )
            for tp in partitions
        }

    def caught_up(self) -> bool:
        progress = self.progress()
        return all(p.lag == 0 for p in progress.values())

    def _confirmed_ends(
        self,
        probe: KafkaConsumer,
        partitions: list[TopicPartition],
        position: dict[TopicPartition, int],
    ) -> dict[TopicPartition, int]:
        """The high watermark of each partition, from a fetch at the group's position.

        A partition whose fetch is not answered within ``confirm_seconds`` gets an end one
        past the position: not caught up, so the caller looks again later.
        """
        probe.assign(partitions)
        for tp in partitions:
            probe.seek(tp, position[tp])
        ends: dict[TopicPartition, int] = {}
        seen: dict[TopicPartition, int] = {}  # past the last record a fetch returned
        deadline = time.monotonic() + self.confirm_seconds
        while len(ends) < len(partitions) and time.monotonic() < deadline:
            fetched = probe.poll(timeout_ms=100)
            for tp in partitions:
                if fetched.get(tp):
                    seen[tp] = max(seen.get(tp, 0), fetched[tp][-1].offset + 1)
                if tp not in ends and (highwater := probe.highwater(tp)) is not None:
                    ends[tp] = highwater
        return {tp: max(ends.get(tp, position[tp] + 1), seen.get(tp, 0)) for tp in partitions}
