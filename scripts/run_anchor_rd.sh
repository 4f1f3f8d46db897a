#!/usr/bin/env bash
# Rate–distortion curves of the classical anchors on DATA.md's evaluation sets -> docs/results/.
# Needs the evaluation data: python scripts/fetch_data.py --split eval
# Points already computed are cached under $RD_CACHE, so an interrupted run resumes.
set -euo pipefail
DATA="${NCODEC_DATA:-$HOME/.cache/ncodec/data}"
MANIFEST="$DATA/manifests/eval.json"
OUT="${OUT:-docs/results}"
RD_CACHE="${RD_CACHE:-$HOME/.cache/ncodec/rd-cache}"
mkdir -p "$OUT" "$RD_CACHE"
if [ ! -f "$MANIFEST" ]; then
  echo "missing $MANIFEST; run: python scripts/fetch_data.py --split eval" >&2
  exit 2
fi
run() { local name=$1; shift; echo "== $name"; /usr/bin/time -f "$name: %e s wall, %U s user" \
  ncodec bench rd "$MANIFEST" --out "$OUT" --name "$name" --cache "$RD_CACHE/$name.jsonl" --no-progress "$@"; }

run image_anchors --category image --crop 768x512 --codec jpeg,webp,avif --anchor jpeg \
  --title "Images: 6 eval photos, Lanczos downscale + centre crop 768x512"
run speech_anchors --category speech --excerpt 10 --codec opus,mp3,aac --anchor opus --speech-metrics \
  --title "Speech: 23 eval clips (codec2 examples, ALSA), first 10 s"
run music_anchors --category music --excerpt 10 --offset 30 --codec opus,mp3,aac --anchor opus \
  --title "Music: 17 hyperrogue tracks, 10 s from 0:30, 44.1 kHz stereo"
run video_anchors --category video --frames 60 --codec x264,x265,svtav1 --anchor x264 \
  --title "Video: 5 real clips, first 60 frames"
