#!/usr/bin/env bash
# Trains the five two-way models (German → English and English → German in one model per
# variant) from scratch, or resumes them: one background process per variant, at the lowest
# priority, with its state, log and training history under STATE (default ../train), outside
# the repository. Run it again to resume after a stop; the shipped models in assets/ are not
# touched until the new ones are copied there (docs/training.md, "Both directions").
#
#     bash scripts/train_both_directions.sh [STATE] [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="${1:-../train}"
MINUTES="${2:-6000}"
TATOEBA="${TATOEBA:-../shared/data/tatoeba-deu-eng/deu.txt}"
mkdir -p "$STATE/logs" "$STATE/history"
if [ ! -f "$STATE/data/prepare.json" ]; then
  python -m seq2seq prepare --tatoeba "$TATOEBA" --out "$STATE/data" --assets "$STATE/assets"
fi
for v in none dot general additive multihead; do
  # setsid gives each run a scheduler group of its own (Linux autogroup), inside which nice alone
  # changes nothing against other sessions' work, so the group itself is lowered too. The run
  # lowers its own group after setsid: written from here, the write could race setsid and land
  # on this shell's group instead.
  nohup setsid bash -c '[ -w /proc/self/autogroup ] && echo 19 > /proc/self/autogroup; exec "$@"' run \
    nice -n 19 python -m seq2seq train --variant "$v" --data "$STATE/data" --assets "$STATE/assets" \
    --runs "$STATE/runs" --directions de-en,en-de --minutes "$MINUTES" --precision auto --threads 1 \
    --dev-sample 500 --history "$STATE/history/{variant}.json" --history-every 250 \
    >> "$STATE/logs/$v.log" 2>&1 &
done
echo "started 5 runs; logs in $STATE/logs, histories in $STATE/history"
