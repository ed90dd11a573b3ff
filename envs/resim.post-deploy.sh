#!/usr/bin/env bash
# Snakemake runs this inside a freshly created env, from the workflow's working directory (the
# repository root): install resim itself (its dependencies come from the env file).
set -euo pipefail
pip install --no-deps --no-build-isolation -e "${RESIM_SOURCE:-.}"
