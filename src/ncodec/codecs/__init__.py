"""Codecs: image (and later audio and video) encoder/decoder networks, their training, and the
integer networks that keep the entropy-coding path bit-exact across machines."""
