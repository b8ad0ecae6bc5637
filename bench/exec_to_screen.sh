#!/usr/bin/env bash
# What a user waits for at 10,000 pods: exec of `cockpit` in tmux at 160x50 until the first pod
# rows are on the screen, and until every pod is (the title reads "Pods (10,0NN)"); then the
# process's RSS. One line per run.
#   COCKPIT_DEMO_DIR=/tmp/big-demo cockpit demo up --nodes 1000 --pods 10000 --port 38711
#   bench/exec_to_screen.sh /tmp/big-demo/kubeconfig [runs]
set -euo pipefail
KC=${1:?usage: exec_to_screen.sh KUBECONFIG [runs]}
RUNS=${2:-3}
COCKPIT=${COCKPIT:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/cockpit}
SOCK=cockpit-bench-$$
for _ in $(seq "$RUNS"); do
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  start=$(date +%s.%N); first=""; title=""
  tmux -L "$SOCK" new-session -d -s c -x 160 -y 50 "$COCKPIT --kubeconfig $KC --context cockpit-demo"
  while true; do
    screen=$(tmux -L "$SOCK" capture-pane -p -t c 2>/dev/null || true)
    now=$(date +%s.%N)
    if [ -z "$first" ] && grep -q "Running" <<<"$screen"; then
      first=$(echo "$now - $start" | bc); title=$(sed -n 2p <<<"$screen" | xargs)
    fi
    if grep -qE "Pods \(10,?0[0-9][0-9]\)" <<<"$screen"; then all=$(echo "$now - $start" | bc); break; fi
    sleep 0.02
  done
  pid=$(pgrep -f "bin/python.*cockpit --kubeconfig $KC" | head -1)
  echo "first rows ${first} s (${title}) | every pod ${all} s | RSS $(( $(ps -o rss= -p "$pid") / 1024 )) MB"
  tmux -L "$SOCK" kill-server
done
