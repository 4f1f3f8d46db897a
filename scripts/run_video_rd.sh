#!/usr/bin/env bash
# Rate–distortion curves of the shipped video model (GOPs of 32, and all intra) against x264, x265 and
# SVT-AV1 on DATA.md's video evaluation set -> docs/results/video_rd.*
# Needs: python scripts/fetch_data.py --split eval --category video
set -euo pipefail
DATA="${NCODEC_DATA:-$HOME/.cache/ncodec/data}"
MANIFEST="$DATA/manifests/eval.json"
OUT="${OUT:-docs/results}"
RD_CACHE="${RD_CACHE:-$HOME/.cache/ncodec/rd-cache}"
MODEL="${MODEL:-video-p-v1}"
FRAMES="${FRAMES:-32}"
mkdir -p "$OUT" "$RD_CACHE"
if [ ! -f "$MANIFEST" ]; then
  echo "missing $MANIFEST; run: python scripts/fetch_data.py --split eval --category video" >&2
  exit 2
fi
ncodec bench rd "$MANIFEST" --category video --frames "$FRAMES" \
  --codec "x264,x265,svtav1,$MODEL,$MODEL@gop=1" --anchor x264 --out "$OUT" --name video_rd \
  --cache "$RD_CACHE/video_rd.jsonl" --no-progress \
  --title "Video: 5 eval clips (bikes, carphone, tree, cube, mire-2), first $FRAMES frames"
