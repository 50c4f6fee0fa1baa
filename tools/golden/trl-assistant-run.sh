#!/usr/bin/env bash
# trl's assistant-only golden, on the device machine, from the kit that tools/golden/trl-assistant-kit.sh
# assembled here (this script is the kit's run.sh):
#
#   bash .gpu/run/trl/run.sh          # OUT must name the output folder (the device call sets it)
#
# Writes $OUT/trl-assistant-golden.json (trl_golden.py --set assistant) and $OUT/trl-assistant.log;
# with WITH_BASE=1 also $OUT/trl-golden.json (--set base, the other trl fixture, remade with the same
# trl). Needs python3 with torch, transformers, peft and accelerate; trl comes from the kit's source,
# datasets, dill and multiprocess from its wheels. CPU only, a minute or two.
set -uo pipefail
K=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${OUT:?set OUT to the output folder}"
mkdir -p "$OUT"
LOG=$OUT/trl-assistant.log
: >"$LOG"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
TRL_COMMIT=$(cat "$K/trl-commit" 2>/dev/null || true)
export TRL_COMMIT
SITE=$(mktemp -d)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "$K"/whl/*.whl >>"$LOG" 2>&1 || echo "pip install of the kit's wheels failed (see $LOG)" | tee -a "$LOG"
export PYTHONPATH=$SITE:$K/trl-src${PYTHONPATH:+:$PYTHONPATH}
python3 -c 'import sys, torch, transformers, peft, datasets, trl; print("python", sys.version.split()[0], "torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__, "datasets", datasets.__version__, "trl", trl.__version__, "from", trl.__file__)' 2>&1 | tee -a "$LOG"
rc=0
for set in assistant ${WITH_BASE:+base}; do
  name=$([ "$set" = assistant ] && echo trl-assistant-golden.json || echo trl-golden.json)
  echo "=== trl_golden.py --set $set -> $name (trl $TRL_COMMIT)" | tee -a "$LOG"
  t0=$SECONDS
  timeout 400 python3 "$K/trl_golden.py" "$K/golden-in" "$K/tiny-chat.jsonl" "$OUT/$name" --set "$set" >>"$LOG" 2>&1
  r=$?
  echo "=== $set: exit $r in $((SECONDS - t0)) s" | tee -a "$LOG"
  [ "$r" -eq 0 ] || rc=$r
done
grep -E "^(assistant|seed|text|completion|packing)|wrote|Error" "$LOG" | tail -30
exit "$rc"
