#!/usr/bin/env bash
# A file-driven training queue for one machine: QUEUE holds lines "NAME|COMMAND" (COMMAND runs from the repository
# root); the jobs run one at a time in RUNS (default runs/, or $STVSR_RUNS). A finished job writes RUNS/NAME.status
# ("done" or "failed rc=N") and is not started again (delete its status file to retry): a run that fails at once,
# or one stopped by hand, must not restart in a loop. A job whose run folder holds a checkpoint resumes it. The
# file is re-read after each job, so lines can be added or reordered while it runs.
#   usage: scripts/train_queue.sh [QUEUE]      (default RUNS/queue.txt)
set -u
cd "$(dirname "$0")/.."
[ -f .venv/bin/activate ] && . .venv/bin/activate
RUNS=${STVSR_RUNS:-runs}
QUEUE=${1:-$RUNS/queue.txt}
mkdir -p "$RUNS"
[ -f "$QUEUE" ] || { echo "no queue file: $QUEUE" >&2; exit 2; }
while pgrep -f "stvsr train|train_detail_features" > /dev/null; do sleep 15; done  # one run at a time
while true; do
  line=$(while IFS= read -r l; do n=${l%%|*}; [ -z "$n" ] && continue; [ -f "$RUNS/$n.status" ] || { echo "$l"; break; }; done < "$QUEUE")
  [ -z "$line" ] && break
  name=${line%%|*}; cmd=${line#*|}
  if [ -f "$RUNS/$name/checkpoint.pt" ]; then cmd="stvsr train --resume $RUNS/$name"; fi
  echo "$(date +%T) start $name: $cmd" >> "$RUNS/queue.log"
  bash -c "$cmd" >> "$RUNS/$name.out" 2>&1
  rc=$?; echo "$(date +%T) end $name rc=$rc" >> "$RUNS/queue.log"
  if [ $rc = 0 ]; then echo done > "$RUNS/$name.status"; else echo "failed rc=$rc" > "$RUNS/$name.status"; fi
done
