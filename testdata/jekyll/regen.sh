#!/bin/sh
# Regenerates the jekyll-feed 0.17 reference output of the test site in
# site/ (committed under jekyll-feed/), with Debian's jekyll and
# ruby-jekyll-feed packages:
#
#   apt-get install -y jekyll ruby-jekyll-feed
#   testdata/jekyll/regen.sh
#
# .ci/run does not run it: the tests compare Herald's feeds with the
# committed output.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# JEKYLL_ENV=production: what a deployed site is built with.
(cd "$here/site" && JEKYLL_ENV=production jekyll build --quiet -s . -d "$out")
rm -rf "$here/jekyll-feed"
mkdir -p "$here/jekyll-feed"
cp "$out/feed.xml" "$here/jekyll-feed/feed.xml"
if [ -d "$out/feed" ]; then
	cp -r "$out/feed" "$here/jekyll-feed/feed"
fi
# The list of generated post pages, to compare URLs with.
(cd "$out" && find . -name index.html -path './blog/*' -o -name index.html -path './custom/*' -o -name 'index.html' -path './news/*' | sort) > "$here/jekyll-feed/pages.txt"
jekyll --version > "$here/jekyll-feed/VERSION"
echo "jekyll-feed $(ls -d /usr/share/rubygems-integration/all/gems/jekyll-feed-* 2>/dev/null | sed 's/.*jekyll-feed-//')" >> "$here/jekyll-feed/VERSION"
echo "wrote $here/jekyll-feed"
