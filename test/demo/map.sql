-- A 2-D map of the word vectors, drawn as an SVG file by SQL alone: pca()
-- and vector_project() place the words, kmeans() and vector_nearest()
-- colour them, and one SELECT with string_agg() writes the SVG text, which
-- psql's \o sends to a file.  Why SQL and not a plotting library: the map
-- shows what the extension's own functions compute, with nothing between
-- them and the picture (test/t/036_demo_map.pl checks the file and renders
-- it in a browser).
--
--   psql -X -v ON_ERROR_STOP=1 -v mapfile=/abs/path/map.svg -f test/demo/map.sql
--
-- Needs a table words (id integer, word text, embedding vector): id is the
-- word's frequency rank, as test/demo/demo.sql loads it.  Leaves the temp
-- tables map_words, map_model and map_points for queries that follow (the
-- demo lists the clusters from them).  Variables, all optional:
--   mapfile     where to write the SVG (default demo-map.svg in psql's
--               working directory)
--   map_from, map_to  the frequency ranks mapped (default 101 to 2000: the
--               100 commonest words -- the, of, and -- are skipped, they
--               carry little meaning)
--   map_k       the number of k-means clusters (default 10)

\if :{?mapfile}
\else
\set mapfile demo-map.svg
\endif
\if :{?map_from}
\else
\set map_from 101
\endif
\if :{?map_to}
\else
\set map_to 2000
\endif
\if :{?map_k}
\else
\set map_k 10
\endif

-- Echo only the statements that compute something (psql -e or ECHO queries
-- shows them), not the setup and not the long SELECT that writes the SVG.
\if :{?ECHO}
\set map_echo :ECHO
\else
\set map_echo none
\endif
\set ECHO none
\set map_quiet :QUIET
\set QUIET on
SET client_min_messages = warning;
-- The labelled words: mapped even when outside the rank range.
DROP TABLE IF EXISTS map_labels, map_words, map_model, map_points;
CREATE TEMP TABLE map_labels (word text PRIMARY KEY);
INSERT INTO map_labels VALUES
    ('king'), ('queen'), ('man'), ('woman'), ('dog'), ('cat'), ('paris'), ('london'),
    ('france'), ('england'), ('river'), ('music'), ('red'), ('blue'), ('monday'),
    ('computer'), ('linux'), ('python'), ('kernel'), ('memory'), ('error'), ('file'),
    ('page'), ('three');
RESET client_min_messages;
\set QUIET :map_quiet
\set ECHO :map_echo

-- Cosine geometry throughout: unit-length vectors, spherical k-means.
CREATE TEMP TABLE map_words AS
SELECT id, word, l2_normalize(embedding) AS v
FROM words
WHERE id BETWEEN :map_from AND :map_to
   OR word IN (SELECT word FROM map_labels);

-- The whole model: one projection and one set of centroids.
CREATE TEMP TABLE map_model AS
SELECT pca(v, 2) AS projection, kmeans(v, :map_k, 'cosine') AS centroids
FROM map_words;

CREATE TEMP TABLE map_points AS
SELECT w.id, w.word,
       vector_nearest(w.v, m.centroids, 'cosine') AS cluster,
       vector_project(w.v, m.projection)::real[] AS xy
FROM map_words w, map_model m;

-- The SVG: 1000 x 800, the map on the left at one scale for both axes
-- (distances on the page are distances in the plane of the two axes), the
-- legend on the right.  Colours: the Tableau 10 palette, then grey.  Each
-- label goes right of its dot, else left, above or below: the first place
-- that overlaps no labelled dot and no label placed before it (commonest
-- words first), else the place with the fewest overlaps.
\set ECHO none
\set QUIET on
\pset format unaligned
\pset tuples_only on
\o :mapfile
WITH RECURSIVE bounds AS (
    SELECT min(xy[1]) AS x0, max(xy[1]) AS x1, min(xy[2]) AS y0, max(xy[2]) AS y1, count(*) AS n
    FROM map_points
), frame AS (      -- the plot area: x 20..690, y 70..780
    SELECT b.*, s, 355 - (x0 + x1) / 2 * s AS ox, 425 + (y0 + y1) / 2 * s AS oy
    FROM bounds b, LATERAL (SELECT least(650 / (x1 - x0), 690 / (y1 - y0)) AS s) sc
), pos AS (
    SELECT p.id, p.word, p.cluster,
           round((f.ox + p.xy[1] * f.s)::numeric, 1) AS px,
           round((f.oy - p.xy[2] * f.s)::numeric, 1) AS py,
           (p.word IN (SELECT word FROM map_labels)) AS labelled
    FROM map_points p, frame f
), palette AS (
    SELECT i AS cluster,
           coalesce(('{#4e79a7,#f28e2b,#e15759,#76b7b2,#59a14f,#edc948,#b07aa1,#ff9da7,#9c755f,#bab0ac}'::text[])[i],
                    '#777777') AS colour
    FROM generate_series(1, :map_k) i
), lab AS (        -- labelled dots in order, with the width of their text
    SELECT row_number() OVER (ORDER BY id) AS rn, word, px, py, 9.2 * length(word) + 6 AS w
    FROM pos WHERE labelled
), placed (rn, word, tx, ty, anchor, boxes) AS (
    -- the labelled dots themselves are taken before any label
    SELECT 0::bigint, NULL::text, NULL::numeric, NULL::numeric, NULL::text,
           array_agg(c ORDER BY rn, i) FROM lab, unnest(ARRAY[px - 5, py - 5, px + 5, py + 5]) WITH ORDINALITY AS u(c, i)
    UNION ALL
    SELECT l.rn, l.word, c.tx, c.ty, c.anchor, p.boxes || ARRAY[c.bx0, c.by0, c.bx1, c.by1]
    FROM placed p
    JOIN lab l ON l.rn = p.rn + 1
    CROSS JOIN LATERAL (
        SELECT cand.*
        FROM (VALUES (1, l.px + 7, l.py + 5, 'start', l.px + 6, l.py - 9, l.px + 6 + l.w, l.py + 6),
                     (2, l.px - 7, l.py + 5, 'end', l.px - 6 - l.w, l.py - 9, l.px - 6, l.py + 6),
                     (3, l.px, l.py - 9, 'middle', l.px - l.w / 2, l.py - 22, l.px + l.w / 2, l.py - 6),
                     (4, l.px, l.py + 20, 'middle', l.px - l.w / 2, l.py + 6, l.px + l.w / 2, l.py + 22))
             AS cand(pref, tx, ty, anchor, bx0, by0, bx1, by1)
        ORDER BY (SELECT count(*) FROM generate_series(1, coalesce(array_length(p.boxes, 1), 0), 4) i
                  WHERE cand.bx0 < p.boxes[i + 2] AND p.boxes[i] < cand.bx1
                    AND cand.by0 < p.boxes[i + 3] AND p.boxes[i + 1] < cand.by1),
                 cand.pref
        LIMIT 1) c
), legend AS (     -- each cluster: its size and its commonest words (one line)
    SELECT c.cluster, pal.colour, count(*) AS size,
           string_agg(c.word, ' ' ORDER BY c.id) FILTER (WHERE c.chars <= 36) AS words
    FROM (SELECT *, sum(length(word) + 1) OVER (PARTITION BY cluster ORDER BY id) AS chars
          FROM map_points) c
    JOIN palette pal USING (cluster)
    GROUP BY c.cluster, pal.colour
)
SELECT concat_ws(E'\n',
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="800" viewBox="0 0 1000 800" font-family="DejaVu Sans, Verdana, sans-serif">',
    '<rect width="1000" height="800" fill="#ffffff"/>',
    format('<text x="20" y="30" font-size="20" font-weight="bold">%s word vectors on two principal axes, coloured by k-means cluster</text>',
           to_char(f.n, 'FM9,999,999')),
    format('<text x="20" y="52" font-size="13" fill="#555555">fastText, 100 dimensions, unit length; pca(v, 2) and vector_project(); kmeans(v, %s, ''cosine'') and vector_nearest()</text>',
           :map_k),
    '<rect x="20" y="70" width="670" height="710" fill="none" stroke="#dddddd"/>',
    '<text x="26" y="772" font-size="11" fill="#777777">x: principal axis 1, y: principal axis 2, one scale for both</text>',
    '<g fill-opacity="0.55">',
    (SELECT string_agg(format('<circle cx="%s" cy="%s" r="2.6" fill="%s"/>', px, py, pal.colour), E'\n' ORDER BY id)
     FROM pos JOIN palette pal USING (cluster)),
    '</g>',
    '<g stroke="#000000" stroke-width="1">',
    (SELECT string_agg(format('<circle cx="%s" cy="%s" r="4.5" fill="%s"/>', px, py, pal.colour), E'\n' ORDER BY id)
     FROM pos JOIN palette pal USING (cluster) WHERE labelled),
    '</g>',
    '<g font-size="14" font-weight="bold" fill="#111111" stroke="#ffffff" stroke-width="3" paint-order="stroke">',
    (SELECT string_agg(format('<text x="%s" y="%s" text-anchor="%s">%s</text>', tx, ty, anchor, word), E'\n' ORDER BY rn)
     FROM placed WHERE rn > 0),
    '</g>',
    '<text x="710" y="86" font-size="14" font-weight="bold">cluster: size, commonest words</text>',
    (SELECT string_agg(concat(
                format('<circle cx="718" cy="%s" r="6" fill="%s"/>', 108 + (cluster - 1) * 50, colour),
                format('<text x="730" y="%s" font-size="13" font-weight="bold">%s: %s words</text>',
                       113 + (cluster - 1) * 50, cluster, size),
                format('<text x="730" y="%s" font-size="12" fill="#333333">%s</text>',
                       131 + (cluster - 1) * 50,
                       replace(replace(replace(words, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'))),
            E'\n' ORDER BY cluster)
     FROM legend),
    '</svg>')
FROM frame f;
\o
\pset format aligned
\pset tuples_only off
\set QUIET :map_quiet
\set ECHO :map_echo
