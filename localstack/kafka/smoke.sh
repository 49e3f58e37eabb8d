#!/usr/bin/env bash
# End-to-end check of broker.sh with Kafka's own console tools: start, create
# `clickstream` (3 partitions), produce keyed JSON lines, consume them back, stop.
# Leaves the broker running if KEEP_RUNNING=1 (e.g. to point another client at it).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
B="$HERE/broker.sh"
BOOTSTRAP="127.0.0.1:${KAFKA_PORT:-9092}"
TOPIC="${SMOKE_TOPIC:-clickstream}"

cleanup() { [[ "${KEEP_RUNNING:-0}" == 1 ]] || "$B" stop; }
trap cleanup EXIT

"$B" start

"$B" run-class org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
  --create --if-not-exists --topic "$TOPIC" --partitions 3 --replication-factor 1
"$B" run-class org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
  --describe --topic "$TOPIC"

sent=$'u1:{"type":"page_view","sku":"A"}\nu2:{"type":"add_to_cart","sku":"B"}\nu3:{"type":"purchase","sku":"C"}\nu1:{"type":"page_view","sku":"D"}'
n=$(printf '%s\n' "$sent" | wc -l)
printf '%s\n' "$sent" | "$B" run-class org.apache.kafka.tools.ConsoleProducer \
  --bootstrap-server "$BOOTSTRAP" --topic "$TOPIC" \
  --reader-property parse.key=true --reader-property key.separator=:

# In 4.x the console consumer lives in the tools.consumer sub-package.
got="$("$B" run-class org.apache.kafka.tools.consumer.ConsoleConsumer \
  --bootstrap-server "$BOOTSTRAP" --topic "$TOPIC" --from-beginning \
  --max-messages "$n" --timeout-ms 30000 --group "smoke-$$" \
  --formatter-property print.key=true --formatter-property key.separator=: 2>/dev/null)"

# Order across partitions is not defined: compare sorted.
if [[ "$(sort <<<"$got")" == "$(printf '%s\n' "$sent" | sort)" ]]; then
  echo "smoke: OK ($n messages round-tripped through $TOPIC)"
else
  echo "smoke: FAILED"; echo "sent:"; printf '%s\n' "$sent"; echo "got:"; printf '%s\n' "$got"
  exit 1
fi
