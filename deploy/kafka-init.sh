#!/bin/sh
# Creates the partner topics (<prefix><partner id>) and the dead-letter topic.
#
# Safe to run again: missing topics are created, existing ones keep their partitions and get
# the configured retention back. Onboarding a partner is adding its id to RIEC_PARTNERS and
# running `docker compose run --rm kafka-init`.
#
# Environment (defaults in brackets):
#   RIEC_PARTNERS                    partner ids, comma separated (required)
#   KAFKA_BOOTSTRAP                  broker address [kafka:9092]
#   KAFKA_COMMAND_CONFIG             client properties file for a secured listener [none]
#   KAFKA_BIN                        directory with the Kafka scripts [/opt/kafka/bin]
#   RIEC_TOPIC_PREFIX                [riec.partner.]
#   RIEC_DEAD_LETTER_TOPIC           [riec.deadletter]
#   RIEC_PARTNER_TOPIC_PARTITIONS    [6]
#   RIEC_PARTNER_TOPIC_RETENTION_MS  [604800000, 7 days]
#   RIEC_DEAD_LETTER_PARTITIONS      [1]
#   RIEC_DEAD_LETTER_RETENTION_MS    [2592000000, 30 days]
#   RIEC_REQUEST_TOPIC_PREFIX        [riec.requests.]
#   RIEC_RESPONSE_TOPIC_PREFIX       [riec.responses.]
#   RIEC_REQUEST_TOPIC_RETENTION_MS  [7776000000, 90 days]
#   RIEC_TOPIC_REPLICATION_FACTOR    [1; use 3 on a production cluster]
set -eu

bin="${KAFKA_BIN:-/opt/kafka/bin}"
bootstrap="${KAFKA_BOOTSTRAP:-kafka:9092}"
partners="${RIEC_PARTNERS:?RIEC_PARTNERS is empty: give the partner ids, comma separated}"
prefix="${RIEC_TOPIC_PREFIX:-riec.partner.}"
dead_letter="${RIEC_DEAD_LETTER_TOPIC:-riec.deadletter}"
partitions="${RIEC_PARTNER_TOPIC_PARTITIONS:-6}"
retention_ms="${RIEC_PARTNER_TOPIC_RETENTION_MS:-604800000}"
dl_partitions="${RIEC_DEAD_LETTER_PARTITIONS:-1}"
dl_retention_ms="${RIEC_DEAD_LETTER_RETENTION_MS:-2592000000}"
replication="${RIEC_TOPIC_REPLICATION_FACTOR:-1}"
request_prefix="${RIEC_REQUEST_TOPIC_PREFIX:-riec.requests.}"
response_prefix="${RIEC_RESPONSE_TOPIC_PREFIX:-riec.responses.}"
# Requests and answers are few and small; the workspace's database keeps the record of
# each, so the topics only need to hold them until both sides have read them.
request_retention_ms="${RIEC_REQUEST_TOPIC_RETENTION_MS:-7776000000}"

# Partner topics accept more than the matching service's envelope limit
# (RIEC_MAX_MESSAGE_BYTES, 256 KiB), so an oversized envelope reaches the service and is
# dead-lettered with a reason the partner can act on, instead of failing silently at the
# partner's producer. The dead-letter topic has room for such an envelope plus the reason.
partner_max_bytes=1048576
dl_max_bytes=2097152

# With three or more replicas a write must reach two of them before it is acknowledged.
if [ "$replication" -ge 3 ]; then min_isr=2; else min_isr=1; fi

kafka_tool() {
    tool="$1"
    shift
    if [ -n "${KAFKA_COMMAND_CONFIG:-}" ]; then
        "$bin/$tool" --bootstrap-server "$bootstrap" --command-config "$KAFKA_COMMAND_CONFIG" "$@"
    else
        "$bin/$tool" --bootstrap-server "$bootstrap" "$@"
    fi
}

# ensure_topic NAME PARTITIONS RETENTION_MS MAX_MESSAGE_BYTES
ensure_topic() {
    name="$1"
    want_partitions="$2"
    configs="cleanup.policy=delete,retention.ms=$3,max.message.bytes=$4,min.insync.replicas=$min_isr"
    if printf '%s\n' "$existing" | grep -qxF "$name"; then
        kafka_tool kafka-configs.sh --alter --entity-type topics --entity-name "$name" \
            --add-config "$configs" > /dev/null
        have_partitions="$(kafka_tool kafka-topics.sh --describe --topic "$name" \
            | sed -n 's/.*PartitionCount: *\([0-9][0-9]*\).*/\1/p' | head -n 1)"
        # Partitions are never added automatically: that moves keys to other partitions and
        # breaks per-record ordering while old and new messages are both in flight.
        if [ -n "$have_partitions" ] && [ "$have_partitions" -lt "$want_partitions" ]; then
            echo "WARNING: $name has $have_partitions partitions, configured $want_partitions;" \
                "add them with kafka-topics.sh --alter --partitions $want_partitions" >&2
        fi
        echo "kept    $name (retention.ms=$3)"
    else
        kafka_tool kafka-topics.sh --create --if-not-exists --topic "$name" \
            --partitions "$want_partitions" --replication-factor "$replication" \
            --config cleanup.policy=delete --config "retention.ms=$3" \
            --config "max.message.bytes=$4" --config "min.insync.replicas=$min_isr" > /dev/null
        echo "created $name (partitions=$want_partitions, retention.ms=$3)"
    fi
}

# Check every id before touching the broker, so a typo creates no topic at all.
invalid=0
for partner in $(printf '%s' "$partners" | tr ',' ' '); do
    # Same rule as the envelope's "partner" field: the topic name must match the id the
    # partner puts in every envelope.
    if ! printf '%s' "$partner" | grep -qE '^[a-z][a-z0-9-]{1,62}$'; then
        echo "ERROR: invalid partner id '$partner' in RIEC_PARTNERS" \
            "(lower-case letters, digits and '-', 2-63 characters, starting with a letter)" >&2
        invalid=1
    fi
done
if [ "$invalid" -ne 0 ]; then
    exit 1
fi

existing="$(kafka_tool kafka-topics.sh --list)"
for partner in $(printf '%s' "$partners" | tr ',' ' '); do
    ensure_topic "$prefix$partner" "$partitions" "$retention_ms" "$partner_max_bytes"
done
ensure_topic "$dead_letter" "$dl_partitions" "$dl_retention_ms" "$dl_max_bytes"
# Staged disclosure: the RIEC's requests to each partner, and each partner's answers.
for partner in $(printf '%s' "$partners" | tr ',' ' '); do
    ensure_topic "$request_prefix$partner" 1 "$request_retention_ms" 1048576
    ensure_topic "$response_prefix$partner" 1 "$request_retention_ms" 1048576
done
