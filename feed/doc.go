// Package feed turns a folder of Jekyll-style Markdown posts into RSS 2.0,
// Atom 1.0 and JSON Feed 1.1 documents.
//
// The story of a build: a [Loader] reads the posts folder into a
// [Snapshot] ([Loader.Scan]: front matter, dates, permalinks; a bad post
// becomes a [Problem] and never stops the others), [Generate] keeps the
// posts due at a given time, renders their Markdown ([Loader.Render]:
// Liquid tags, math, heading ids, absolute URLs) and [Build]s deterministic
// feed bytes into an [Output], which [WriteDir] writes atomically and a
// [Handler] serves over HTTP with conditional GET. A one-off build that
// only writes files uses [Entries] then [BuildDir]: the same bytes,
// streamed to disk as they are made instead of held in memory. [Loader.Section] cuts
// the section a newsletter mails (mail.section, "TLDR").
//
// Time: a Loader takes it from the [Clock] of its [LoaderOptions]
// ([NewLoaderWith]; nil, and [NewLoader], mean the system clock): when a
// scan starts, and the posts.render_timeout deadline of a rendering.
//
// Configuration: [Site], [PostsConfig] and [FeedsConfig] are the [site],
// [posts] and [feeds] sections, each with its Default function and
// Validate method. With site.jekyll, [ReadJekyllConfig] reads a Jekyll
// site's _config.yml, and the feeds take jekyll-feed's paths, ids and
// titles, so that readers cannot tell them apart.
//
// feed is the bottom of Herald's import graph: it imports nothing of
// Herald's, and is the only importer of goldmark, its passthrough
// extension, yaml.v3 and gorilla/feeds.
package feed
