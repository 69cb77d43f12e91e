#!/usr/bin/env bash
# File-driven training queue (maintainers, one CPU machine): QUEUE (default /work/runs/queue.txt) holds lines "NAME|COMMAND" (COMMAND run from /work/main);
# one at a time; a finished job writes /work/runs/NAME.status ("done" or "failed rc=N") and is not started again
# (delete its status file to retry): a run that fails at once, or one stopped by hand, must not be restarted in a
# loop. The file is re-read after each job, so lines can be added or reordered while it runs.
cd "$(dirname "$0")/.." && . .venv/bin/activate
QUEUE=${1:-/work/runs/queue.txt}
while pgrep -f "stvsr train|train_detail_features" > /dev/null; do sleep 15; done
while true; do
  line=$(while IFS= read -r l; do n=${l%%|*}; [ -z "$n" ] && continue; [ -f /work/runs/$n.status ] || { echo "$l"; break; }; done < "$QUEUE")
  [ -z "$line" ] && break
  name=${line%%|*}; cmd=${line#*|}
  if [ -d /work/runs/$name ] && [ -f /work/runs/$name/checkpoint.pt ]; then cmd="stvsr train --resume /work/runs/$name"; fi
  echo "$(date +%T) start $name: $cmd" >> /work/runs/queue.log
  bash -c "$cmd" >> /work/runs/$name.out 2>&1
  rc=$?; echo "$(date +%T) end $name rc=$rc" >> /work/runs/queue.log
  echo $([ $rc = 0 ] && echo done || echo "failed rc=$rc") > /work/runs/$name.status
done
