#!/usr/bin/env bash
# Rate–distortion curves of the shipped audio models against Opus, MP3, AAC and Codec2 on DATA.md's
# speech and music evaluation sets -> docs/results/{speech,music}_rd.*
# Needs: python scripts/fetch_data.py --split eval --category speech,music  and  --tools (Codec2)
set -euo pipefail
DATA="${NCODEC_DATA:-$HOME/.cache/ncodec/data}"
MANIFEST="$DATA/manifests/eval.json"
OUT="${OUT:-docs/results}"
RD_CACHE="${RD_CACHE:-$HOME/.cache/ncodec/rd-cache}"
# the residual-FSQ model is not shipped: export it first (docs/results/README.md) and name its file
SPEECH_MODELS="${SPEECH_MODELS:-audio-speech-rvq-v1}"
MUSIC_MODELS="${MUSIC_MODELS:-audio-music-rvq-v1}"
mkdir -p "$OUT" "$RD_CACHE"
if [ ! -f "$MANIFEST" ]; then
  echo "missing $MANIFEST; run: python scripts/fetch_data.py --split eval" >&2
  exit 2
fi
ncodec bench rd "$MANIFEST" --category speech --excerpt 10 --codec "opus,codec2,mp3,aac,$SPEECH_MODELS" \
  --anchor opus --speech-metrics --out "$OUT" --name speech_rd --cache "$RD_CACHE/speech_rd.jsonl" \
  --points "opus=6,8,12,16,24" --no-progress \
  --title "Speech: 23 eval clips (codec2 examples, ALSA), first 10 s"
ncodec bench rd "$MANIFEST" --category music --excerpt 10 --offset 30 --codec "opus,$MUSIC_MODELS" \
  --anchor opus --out "$OUT" --name music_rd --cache "$RD_CACHE/music_rd.jsonl" --no-progress \
  --title "Music: 17 hyperrogue tracks, 10 s from 0:30, 44.1 kHz stereo"
