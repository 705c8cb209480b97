#!/usr/bin/env bash
# Fetch MathJax 3 (tex-mml-chtml + its web fonts, ~1.5 MB) from the npm registry into
# docs/javascripts/mathjax/, so the site renders math offline (no CDN at view time).
# Called by `make docs`; the folder is not committed (.gitignore).
set -euo pipefail
dest="$(dirname "$0")/mathjax"
[ -f "$dest/tex-mml-chtml.js" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent mathjax@3.2.2 >/dev/null && tar -xzf mathjax-3.2.2.tgz)
mkdir -p "$dest/output/chtml/fonts"
cp "$tmp/package/es5/tex-mml-chtml.js" "$dest/"
cp -r "$tmp/package/es5/output/chtml/fonts/woff-v2" "$dest/output/chtml/fonts/"
echo "MathJax 3.2.2 -> $dest"
