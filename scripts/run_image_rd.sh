#!/usr/bin/env bash
# Rate–distortion of ncodec's shipped image models against JPEG/WebP/AVIF and compressai's
# bmshj2018-hyperprior baseline on DATA.md's image evaluation set -> docs/results/image_rd.*,
# and the encode/decode time of a 768x512 image -> docs/results/bench_image_codec.json.
# Needs the evaluation data (python scripts/fetch_data.py --split eval) and the baseline's exported
# weights, one file per lambda, in $BASELINE (see docs/results/README.md for how they were trained).
# EXTRA: more codecs for the RD run, comma-separated (unshipped weights files, NAME@refine=STEPS);
# REFINE: refinement steps to time next to the plain encoder (0: none); LARGE: WxH (e.g. 7680x4320) to
# also time one photo scaled to that size (tiled transforms), with peak memory.
set -euo pipefail
DATA="${NCODEC_DATA:-$HOME/.cache/ncodec/data}"
MANIFEST="$DATA/manifests/eval.json"
OUT="${OUT:-docs/results}"
RD_CACHE="${RD_CACHE:-$HOME/.cache/ncodec/rd-cache}"
BASELINE="${BASELINE:?set BASELINE to the folder of bmshj2018-hyperprior weights files}"
mkdir -p "$OUT" "$RD_CACHE"
codecs="jpeg,webp,avif,$(ncodec models --names | paste -sd,),$BASELINE${EXTRA:+,$EXTRA}"
ncodec bench rd "$MANIFEST" --out "$OUT" --name image_rd --cache "$RD_CACHE/image_rd.jsonl" --no-progress \
  --category image --crop 768x512 --codec "$codecs" --anchor jpeg \
  --title "Images: 6 eval photos 768x512 - ncodec models vs classical codecs and compressai"
python scripts/bench_image_codec.py --baseline "$BASELINE" --refine "${REFINE:-0}" ${LARGE:+--large "$LARGE"} --threads 2 --images 3 --quality 1 --baseline-quality 1 \
  --out "$OUT/bench_image_codec.json"
