-- Finding a post announced before under another id (a renamed file):
-- by content hash, or by title and date.
CREATE INDEX posts_hash ON posts (hash);
CREATE INDEX posts_title_date ON posts (title, date);
